"""API routes of this app (registered under /api/ by governance/urls.py)."""
from rest_framework.routers import DefaultRouter

from governance.archive.api import views

router = DefaultRouter()
# DRF 3.18 takes trailing_slash as a boolean; set the pattern afterwards so both /x and /x/ resolve.
router.trailing_slash = "/?"
router.register("archive/bundles", views.EvidenceBundleViewSet, basename="archive-bundle")
router.register("archive/bundle-builds", views.BundleBuildViewSet, basename="archive-bundle-build")
router.register("archive/holds", views.LegalHoldViewSet, basename="archive-hold")
router.register("archive/retention-policies", views.RetentionPolicyViewSet, basename="archive-retention-policy")
urlpatterns = router.urls
