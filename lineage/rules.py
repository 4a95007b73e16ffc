"""Lineage is read by every role; engineers post OpenLineage events and make same-as links, approvers
confirm links (not their own: lineage.stitching refuses that)."""
from __future__ import annotations

from common.roles import ADMIN, APPROVER, ENGINEER
from common.rules import ANY_ROLE, DomainRules

RULES = DomainRules("lineage", read=ANY_ROLE, actions={
    "ingest": (ENGINEER,),
    "link": (ADMIN, ENGINEER),
    "confirm_link": (ADMIN, APPROVER),
})


def visible_to(user):
    from lineage.models import Node

    qs = Node.objects.all()
    return qs if RULES.allows(user, "read") else qs.none()


def can(user, action: str, obj=None) -> bool:
    return RULES.allows(user, action)
