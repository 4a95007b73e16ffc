"""API token authentication.

openlineage-python's `api_key` auth and Marquez clients send `Authorization: Bearer <token>`; DRF's
own clients send `Token <token>`. Both are accepted. The authenticated user becomes the audit actor.
"""
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header

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
