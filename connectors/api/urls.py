"""API routes of this app (registered under /api/ by governance/urls.py)."""
from rest_framework.routers import DefaultRouter

from connectors.api import views

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("connectors", views.ConnectorConfigViewSet, basename="connector")
router.register("harvests", views.HarvestViewSet, basename="harvest")
urlpatterns = router.urls
