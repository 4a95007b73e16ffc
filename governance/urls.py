"""URL map. Each app owns its API routes in its own `api/urls.py`."""
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from django.views.generic import RedirectView

from common.routers import api_root_view
from governance import api_errors
from governance.accounts import views as account_views
from governance.health import health

urlpatterns = [
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/login/", account_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", account_views.logout, name="logout"),
    path("accounts/oidc/", include("governance.accounts.urls")),
    path("accounts/tokens/", account_views.token_page, name="api-tokens"),
    path("dashboard/", include("dashboard.urls")),
    path("api/health/", health, name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file (?script): no inline script, so CSP stays 'self'.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("lineage.ingest.api.urls")),
    path("api/", include("lineage.marquez.urls")),
    path("api/", include("governance.provenance.urls")),
    path("api/", include("lineage.api.urls")),
    path("api/", include("governance.approvals.api.urls")),
    path("api/", include("governance.archive.api.urls")),
    path("api/", include("connectors.viya.urls")),
    path("api/", include("governance.audit.api.urls")),
    path("api/", include("connectors.api.urls")),
    path("api/", include("governance.accounts.api.urls")),
    # After every app's routes: the one root listing them all.
    path("api/", api_root_view(), name="api-root"),
    path("api/", include([re_path(r"", api_errors.api_not_found)])),  # last: any other /api/ path is a JSON 404
]
handler404 = api_errors.handler404
handler500 = api_errors.handler500
