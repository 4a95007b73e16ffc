"""How the OpenAPI schema describes the API's authentication (drf-spectacular finds extensions by import)."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "governance.accounts.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (`/api/tokens/`, `manage.py create_user`), or an access token "
                           "(JWT) of the configured OpenID provider for OIDC_API_AUDIENCE. `Token <key>` is "
                           "accepted too.",
        }
