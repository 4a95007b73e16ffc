"""API routes of this app (registered under /api/ by governance/urls.py)."""

from common.routers import api_router
from lineage.api import views

router = api_router()
router.register("nodes", views.NodeViewSet, basename="node")
for prefix, viewset, basename in views.KIND_ROUTES:
    router.register(prefix, viewset, basename=basename)
router.register("edges", views.EdgeViewSet, basename="edge")
router.register("raw-records", views.RawRecordViewSet, basename="rawrecord")
urlpatterns = router.urls
