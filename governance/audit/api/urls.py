"""API routes of this app (registered under /api/ by governance/urls.py)."""
from common.routers import api_router, slash_optional

from governance.audit.api import views

router = api_router()
router.register("audit/entries", views.AuditEntryViewSet, basename="audit-entry")
router.register("audit/checkpoints", views.AuditCheckpointViewSet, basename="audit-checkpoint")

urlpatterns = [
    *slash_optional("audit/verify/", views.VerifyView.as_view(), name="audit-verify"),
    *slash_optional("audit/export/", views.ExportView.as_view(), name="audit-export"),
    *router.urls,
]
