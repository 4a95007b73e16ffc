"""Personal API tokens, managed by their owner: each caller sees and changes only their own tokens (another
person's token id is a 404, not a 403, so ids reveal nothing). Any signed-in person may hold tokens; what a
token lets them do is what their roles let them do."""
from django.db import connection, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.accounts import tokens
from governance.accounts.api import serializers as s
from governance.accounts.models import ApiToken
from common.roles import roles_of


class ApiTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ApiTokenSerializer
    permission_classes = [IsAuthenticated]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filterset_fields = ["is_default"]
    search_fields = ["name"]

    def get_queryset(self):
        return ApiToken.objects.filter(user=self.request.user)

    @extend_schema(request=s.ApiTokenCreateSerializer, responses={201: s.ApiTokenIssuedSerializer})
    def create(self, request):
        data = s.ApiTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # A token minted with another personal token does not outlive it: a leaked token cannot extend itself.
        presented = request.auth if isinstance(request.auth, ApiToken) else None
        try:
            with transaction.atomic():
                token, key = tokens.issue(request.user, data.validated_data["name"],
                                          days=data.validated_data.get("expires_in_days"),
                                          not_after=presented.expires_at if presented else None)
        except tokens.TokenError as exc:
            raise ValidationError({"expires_in_days": [str(exc)]}) from None
        body = s.ApiTokenIssuedSerializer(token).data
        body["token"] = key
        return Response(body, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        token = self.get_object()
        data = s.ApiTokenSerializer(token, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if "name" in data.validated_data:
            with transaction.atomic():
                tokens.rename(token, data.validated_data["name"])
        return Response(s.ApiTokenSerializer(token).data)

    @extend_schema(responses={204: None}, description="Revoke the token (it stays listed, as revoked).")
    def destroy(self, request, pk=None):
        token = self.get_object()
        tokens.revoke(token, reason="revoked by its owner")
        return Response(status=status.HTTP_204_NO_CONTENT)


class WhoAmIView(APIView):
    """Who the presented credentials are and which roles they hold, after one `SELECT 1` proving the
    database answers: a client's cheapest check that its token works, and the unit bench.ingest divides
    an ingest's CPU by (an authenticated request doing the least a request can)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.WhoAmISerializer})
    def get(self, request):
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        return Response({"username": request.user.get_username(), "roles": sorted(roles_of(request.user))})
