"""API routes of this app (registered under /api/ by governance/urls.py)."""
from rest_framework.routers import DefaultRouter

from lineage.api import views

router = DefaultRouter(trailing_slash="/?")
router.register("nodes", views.NodeViewSet, basename="node")
for prefix, viewset, basename in views.KIND_ROUTES:
    router.register(prefix, viewset, basename=basename)
router.register("edges", views.EdgeViewSet, basename="edge")
router.register("raw-records", views.RawRecordViewSet, basename="rawrecord")
urlpatterns = router.urls
