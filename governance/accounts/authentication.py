"""API token authentication.

openlineage-python's `api_key` auth and Marquez clients send `Authorization: Bearer <token>`; DRF's
own clients send `Token <token>`. Both are accepted. The authenticated user becomes the audit actor.

The token, its user and the user's roles are read in one query: every API request checks a role right
after authenticating, and a second round trip for the groups was a tenth of an ingest request's time.
"""
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header

from governance.accounts.roles import ADMIN, ALL_ROLES
from governance.audit import context

KEYWORDS = (b"bearer", b"token")


class BearerTokenAuthentication(TokenAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: give exactly one token after Bearer.")
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token header: the token has invalid characters.") from None
        user, token = self.authenticate_credentials(key)
        django_request = request._request
        context.set_current(
            context.for_user(
                user,
                request_id=getattr(django_request, "request_id", None),
                client_ip=django_request.META.get("REMOTE_ADDR"),
            )
        )
        return user, token

    def authenticate_credentials(self, key):
        memberships = get_user_model().groups.through.objects.filter(user_id=OuterRef("user_id"))
        flags = {f"ll_role_{role}": Exists(memberships.filter(group__name=role)) for role in ALL_ROLES}
        try:
            token = self.get_model().objects.select_related("user").annotate(**flags).get(key=key)
        except self.get_model().DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        # What governance.accounts.roles.roles_of would compute with its own query, cached where it looks.
        roles = {role for role in ALL_ROLES if getattr(token, f"ll_role_{role}")}
        if user.is_superuser:
            roles.add(ADMIN)
        user._ll_roles = roles
        return user, token
