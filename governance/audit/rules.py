"""The audit trail is read by auditors (and admins); only an admin writes to it directly, with a manual
checkpoint. Everything else reaches it through governance.audit.recorder."""
from __future__ import annotations

from common.roles import ADMIN, AUDITOR
from common.rules import DomainRules

RULES = DomainRules("audit", read=(AUDITOR, ADMIN), actions={"checkpoint": (ADMIN,)})


def visible_to(user):
    from governance.audit.models import AuditEntry

    qs = AuditEntry.objects.all()
    return qs if RULES.allows(user, "read") else qs.none()


def can(user, action: str, obj=None) -> bool:
    return RULES.allows(user, action)
