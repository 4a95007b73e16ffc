"""Who may act on promotion requests: engineers request, submit and withdraw; approvers decide; both
may re-evaluate gates; admins override gates, retry executions and configure stages, policies and
webhooks; every role reads. Separation of duties (no approving one's own request) is a rule of the
request's state and lives in governance.approvals.services, which refuses with a ServiceError."""
from __future__ import annotations

from common.roles import ADMIN, APPROVER, ENGINEER
from common.rules import ANY_ROLE, DomainRules

RULES = DomainRules("approvals", read=ANY_ROLE, actions={
    "create": (ENGINEER,),
    "submit": (ENGINEER,),
    "withdraw": (ENGINEER,),
    "evaluate": (ENGINEER, APPROVER),
    "approve": (APPROVER,),
    "reject": (APPROVER,),
    "override": (ADMIN,),
    "execute": (ADMIN,),
    "configure": (ADMIN,),  # stages, stage policies, webhooks
})


def visible_to(user):
    """Promotion requests are open to every role: approvers must see what they decide, auditors all."""
    from governance.approvals.models import PromotionRequest

    qs = PromotionRequest.objects.all()
    return qs if RULES.allows(user, "read") else qs.none()


def can(user, action: str, obj=None) -> bool:
    return RULES.allows(user, action)
