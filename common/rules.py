"""Who may do what, per domain, in one place that the API (permission classes, querysets) and the
dashboard (page access, callback guards) both read, so the two cannot drift apart.

Each domain has a `rules` module (governance/approvals/rules.py, governance/archive/rules.py,
governance/audit/rules.py, connectors/rules.py, lineage/rules.py) holding a `DomainRules` and, where rows
are visible to some callers only, `visible_to(user)`."""
from __future__ import annotations

from dataclasses import dataclass, field

from common.roles import ADMIN, APPROVER, AUDITOR, ENGINEER, has_role, roles_of

ANY_ROLE = (ENGINEER, AUDITOR, APPROVER, ADMIN)


@dataclass(frozen=True)
class DomainRules:
    """`read`: the roles that may read the domain; `actions`: the roles each write action needs (an
    admin holds every role)."""

    name: str
    read: tuple[str, ...] = ANY_ROLE
    actions: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def roles_for(self, action: str) -> tuple[str, ...]:
        return self.read if action == "read" else self.actions[action]

    def allows(self, user, action: str) -> bool:
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return False
        roles = self.roles_for(action)
        return has_role(user, *roles) if roles != ANY_ROLE else bool(roles_of(user))

    def refusal(self, user, action: str) -> str:
        """Why `user` may not: the words the API and the dashboard both show."""
        if user is None or not getattr(user, "is_authenticated", False):
            return "You are not signed in."
        held = ", ".join(sorted(roles_of(user))) or "no role"
        return f"This needs the role {' or '.join(self.roles_for(action))}; you hold {held}."

    def permission(self, write_action: str, read_action: str = "read"):
        """A DRF permission class: safe methods need `read_action`'s roles, writes `write_action`'s."""
        from common.permissions import role_permission

        read = self.roles_for(read_action)
        return role_permission(*self.roles_for(write_action), read_roles=None if read == ANY_ROLE else read)
