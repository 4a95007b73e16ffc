"""API routes of accounts (registered under /api/ by governance/urls.py)."""
from rest_framework.routers import SimpleRouter

from governance.accounts.api import views

router = SimpleRouter(trailing_slash="/?")
router.register("tokens", views.ApiTokenViewSet, basename="api-token")
urlpatterns = router.urls
