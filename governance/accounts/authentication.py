"""API token authentication.

openlineage-python's `api_key` auth and Marquez clients send `Authorization: Bearer <token>`; DRF's
own clients send `Token <token>`. Both are accepted. The authenticated user becomes the audit actor.
"""
from rest_framework.authentication import TokenAuthentication

from governance.audit import context


class BearerTokenAuthentication(TokenAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header.startswith("Token "):
            request.META["HTTP_AUTHORIZATION"] = "Bearer " + header[len("Token "):]
        result = super().authenticate(request)
        if result is not None:
            user, _token = result
            django_request = request._request
            context.set_current(
                context.for_user(
                    user,
                    request_id=getattr(django_request, "request_id", None),
                    client_ip=django_request.META.get("REMOTE_ADDR"),
                )
            )
        return result
