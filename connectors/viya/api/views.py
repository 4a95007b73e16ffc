"""POST /api/links/same-as/ — an explicit, audited same-as link between two platforms' nodes.

Admins and engineers may link; anyone with a role may read the answer. The work (checks, edge, audit entry
in one transaction) is in lineage.stitching so the API stays thin.
"""
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.viya.api.serializers import SameAsEdge, SameAsLinkRequest
from governance.accounts.permissions import role_permission
from governance.accounts.roles import ADMIN, ENGINEER
from lineage.stitching import StitchError, link_same_as


class SameAsLinkView(APIView):
    permission_classes = [role_permission(ADMIN, ENGINEER)]

    @extend_schema(request=SameAsLinkRequest, responses={201: SameAsEdge, 200: SameAsEdge})
    def post(self, request):
        form = SameAsLinkRequest(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            edge, created = link_same_as(form.validated_data["src"], form.validated_data["dst"],
                                         reason=form.validated_data["reason"])
        except StitchError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(SameAsEdge(edge).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
