"""POST /api/links/same-as/ — an explicit, audited same-as link between two platforms' nodes;
POST /api/links/same-as/{edge}/confirm/ — an approver's or admin's confirmation of one.

Admins and engineers may link; approvers and admins (not the link's maker) may confirm, which lets gates
rely on a link the requester made themselves. The work (checks, edge, audit entry in one transaction) is in
lineage.stitching so the API stays thin.
"""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import Conflict, Invalid
from connectors.viya.api.serializers import SameAsConfirmRequest, SameAsEdge, SameAsLinkRequest
from common.audit import record
from lineage import rules as lineage_rules
from lineage.models import Edge
from lineage.stitching import LinkAlreadyConfirmed, StitchError, confirm_same_as, link_same_as


class SameAsLinkView(APIView):
    permission_classes = [lineage_rules.RULES.permission("link")]

    @extend_schema(request=SameAsLinkRequest, responses={201: SameAsEdge, 200: SameAsEdge})
    def post(self, request):
        form = SameAsLinkRequest(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            edge, created = link_same_as(form.validated_data["src"], form.validated_data["dst"],
                                         reason=form.validated_data["reason"], user=request.user)
        except StitchError as exc:
            raise Invalid(str(exc)) from None
        return Response(SameAsEdge(edge).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class SameAsConfirmView(APIView):
    permission_classes = [lineage_rules.RULES.permission("confirm_link")]

    @extend_schema(request=SameAsConfirmRequest, responses={200: SameAsEdge})
    def post(self, request, id: int):
        edge = get_object_or_404(Edge, pk=id)  # a link that is not there is a 404 whatever the body says
        form = SameAsConfirmRequest(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            confirm_same_as(edge, request.user, reason=form.validated_data["reason"])
        except StitchError as exc:
            record("lineage.link.same_as.confirm_refused", "lineage.edge", edge.pk, reason=str(exc))
            raise (Conflict if isinstance(exc, LinkAlreadyConfirmed) else Invalid)(str(exc)) from None
        edge.refresh_from_db()
        return Response(SameAsEdge(edge).data)
