"""API routes of this app (registered under /api/ by governance/urls.py)."""
from django.urls import path
from rest_framework.routers import DefaultRouter

from governance.audit.api import views

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("audit/entries", views.AuditEntryViewSet, basename="audit-entry")
router.register("audit/checkpoints", views.AuditCheckpointViewSet, basename="audit-checkpoint")

urlpatterns = [
    path("audit/verify/", views.VerifyView.as_view(), name="audit-verify"),
    path("audit/export/", views.ExportView.as_view(), name="audit-export"),
    *router.urls,
]
