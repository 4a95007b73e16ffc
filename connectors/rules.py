"""Connector configuration names hosts and holds credentials: admins only, even to read, and only admins
start a harvest. Harvest records (how fresh the lineage is) are for every role."""
from __future__ import annotations

from common.roles import ADMIN
from common.rules import ANY_ROLE, DomainRules

RULES = DomainRules("connectors", read=ANY_ROLE, actions={
    "configure": (ADMIN,),        # read and write connector configuration
    "harvest": (ADMIN,),
})


def visible_to(user):
    """The harvest records `user` may see."""
    from connectors.models import Harvest

    qs = Harvest.objects.select_related("connector")
    return qs if RULES.allows(user, "read") else qs.none()


def can(user, action: str, obj=None) -> bool:
    return RULES.allows(user, action)
