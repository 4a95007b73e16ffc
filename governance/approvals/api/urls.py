"""API routes of this app (registered under /api/ by governance/urls.py)."""
from common.routers import api_router, slash_optional

from governance.approvals.api import views

router = api_router()
router.register("stages", views.StageViewSet, basename="stage")
router.register("stage-policies", views.StagePolicyViewSet, basename="stage-policy")
router.register("promotion-requests", views.PromotionRequestViewSet, basename="promotion-request")
router.register("promotion-decisions", views.DecisionViewSet, basename="promotion-decision")
router.register("stage-assignments", views.StageAssignmentViewSet, basename="stage-assignment")
router.register("webhooks", views.WebhookSubscriptionViewSet, basename="webhook")
router.register("webhook-deliveries", views.WebhookDeliveryViewSet, basename="webhook-delivery")

urlpatterns = [
    *slash_optional("model-versions/<int:node_id>/stage-history/", views.StageHistoryView.as_view(), name="stage-history"),
    *router.urls,
]
