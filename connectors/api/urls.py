"""API routes of this app (registered under /api/ by governance/urls.py)."""

from common.routers import api_router
from connectors.api import views

router = api_router()
router.register("connectors", views.ConnectorConfigViewSet, basename="connector")
router.register("harvests", views.HarvestViewSet, basename="harvest")
urlpatterns = router.urls
