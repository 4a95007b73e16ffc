"""API routes of this app (registered under /api/ by governance/urls.py)."""

from common.routers import api_router
from governance.archive.api import views

router = api_router()
router.register("archive/bundles", views.EvidenceBundleViewSet, basename="archive-bundle")
router.register("archive/bundle-builds", views.BundleBuildViewSet, basename="archive-bundle-build")
router.register("archive/holds", views.LegalHoldViewSet, basename="archive-hold")
router.register("archive/retention-policies", views.RetentionPolicyViewSet, basename="archive-retention-policy")
urlpatterns = router.urls
