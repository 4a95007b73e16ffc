"""URL map. Each app owns its API routes in its own `api/urls.py`."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from django.views.generic import RedirectView

from governance import api_errors
from governance.health import health

urlpatterns = [
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dashboard/", include("dashboard.urls")),
    path("api/health/", health, name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file (?script): no inline script, so CSP stays 'self'.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("lineage.ingest.api.urls")),
    path("api/", include("lineage.api.urls")),
    path("api/", include("governance.approvals.api.urls")),
    path("api/", include("governance.archive.api.urls")),
    path("api/", include("connectors.viya.urls")),
    path("api/", include("governance.audit.api.urls")),
    path("api/", include("connectors.api.urls")),
    path("api/", include([re_path(r"", api_errors.api_not_found)])),  # last: any other /api/ path is a JSON 404
]
handler404 = api_errors.handler404
handler500 = api_errors.handler500
