"""API routes of accounts (registered under /api/ by governance/urls.py)."""
from common.routers import api_router, slash_optional

from governance.accounts.api import views

router = api_router()
router.register("tokens", views.ApiTokenViewSet, basename="api-token")
urlpatterns = [*router.urls, *slash_optional("whoami/", views.WhoAmIView.as_view(), name="whoami")]
