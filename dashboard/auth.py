"""Who is calling the dashboard, decided on the server for every request and every callback.

The Django view in `dashboard.views` runs after Django's session and authentication middleware, so it
knows the signed-in user; it hands that user to the Dash (Flask) app through the WSGI environ under
`ENVIRON_KEY`. Callbacks never trust anything the browser sends about identity: they are wrapped in
`guarded()` here, which reads only that environ entry and asks the domain's rules
(governance/accounts/rules.py), the same the API's permission classes ask. A request that reached
Flask any other way (no Django view in front) has no user and is refused.
"""
from __future__ import annotations

import functools

from connectors import rules as connectors_rules
from common.roles import has_role, roles_of
from common.rules import DomainRules
from governance.approvals import rules as approvals_rules
from governance.archive import rules as archive_rules
from governance.audit import rules as audit_rules
from lineage import rules as lineage_rules

ENVIRON_KEY = "lineage_ledger.user"

# Which rule lets a user open each page: the read rule of the domain the page shows, the same rule the
# API's permission classes use (governance/accounts/rules.py), so a page and its API cannot drift apart.
# The archive page is open to every role but lists only the bundles the archive rules show that user.
PAGE_RULES: dict[str, tuple[DomainRules, str]] = {
    "overview": (lineage_rules.RULES, "read"),
    "lineage": (lineage_rules.RULES, "read"),
    "model": (lineage_rules.RULES, "read"),
    "models": (lineage_rules.RULES, "read"),
    "approvals": (approvals_rules.RULES, "read"),
    "audit": (audit_rules.RULES, "read"),
    "archive": (archive_rules.RULES, "read"),
    "connectors": (connectors_rules.RULES, "read"),
}
PAGE_ROLES: dict[str, tuple[str, ...]] = {page: rules.roles_for(action) for page, (rules, action) in PAGE_RULES.items()}


class PermissionRefused(Exception):
    """Raised by callbacks when the caller lacks the role; pages turn it into a visible message."""


def current_user():
    """The Django user behind the current Dash request, or None when there is none."""
    try:
        from flask import has_request_context, request
    except ImportError:  # pragma: no cover - flask ships with dash
        return None
    if not has_request_context():
        return None
    user = request.environ.get(ENVIRON_KEY)
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return user


def can(user, *roles: str) -> bool:
    return user is not None and has_role(user, *roles)


def can_open(user, page: str) -> bool:
    rules, action = PAGE_RULES[page]
    return rules.allows(user, action)


def require_role(*roles: str, governed: tuple[str, str, object] | None = None):
    """The current user when they hold one of `roles` (admin holds all), else PermissionRefused.

    `governed`: (object type, action, object id) when the callback is a governed write; its refusal is then
    audited like the API's (governance.audit.refusals)."""
    user = current_user()
    if user is None:
        raise PermissionRefused("You are not signed in.")
    if not has_role(user, *roles):
        held = ", ".join(sorted(roles_of(user))) or "no role"
        message = f"This needs the role {' or '.join(roles)}; you hold {held}."
        if governed is not None:
            audit_refusal(user, *governed, message, status=403)
        raise PermissionRefused(message)
    return user


def audit_refusal(user, object_type: str, action: str, object_id, reason: str, status: int) -> None:
    """Record a refused governed action taken from the dashboard, with the Django request's id."""
    from flask import request

    from governance.audit.refusals import record_refused

    environ = request.environ
    record_refused(user, object_type, action, object_id, reason,
                   details={"status": status, "via": "dashboard", "path": environ.get("PATH_INFO", "")},
                   request_id=_django_request_id(),
                   client_ip=environ.get("REMOTE_ADDR"))


def _django_request_id() -> str:
    """The id RequestIdMiddleware gave the Django request this Dash call runs inside (same thread)."""
    from common.audit import context

    return context.current().request_id


def require_page(page: str):
    return require_role(*PAGE_ROLES[page])


def guarded(*, page: str | None = None, rule: tuple[DomainRules, str] | None = None, refused,
            governed=None, idle=None):
    """The one permission check of a dashboard callback: the wrapped callback runs with the current user
    as its first argument only when that user may open `page` (or may do `rule` = (domain rules, action));
    otherwise it answers `refused(message)` (what the callback's outputs show instead).

    `governed(*args)` gives (object type, action, object id) for a governed action, whose refusal is then
    recorded in the audit trail as the API's RefusalAuditMiddleware records the API's. `idle(*args)`, when
    it returns something other than None, is the answer for a call with nothing to do (no click yet): no
    check, no refusal to record."""
    if (page is None) == (rule is None):
        raise TypeError("guarded() takes a page or a rule")
    rules, action = rule if rule is not None else PAGE_RULES[page]

    def wrap(callback):
        @functools.wraps(callback)
        def inner(*args):
            if idle is not None:
                nothing = idle(*args)
                if nothing is not None:
                    return nothing
            user = current_user()
            if user is None:
                return refused("You are not signed in.")
            if not rules.allows(user, action):
                message = rules.refusal(user, action)
                if governed is not None:
                    audit_refusal(user, *governed(*args), message, status=403)
                return refused(message)
            try:
                return callback(user, *args)
            except PermissionRefused as exc:  # a finer rule inside the callback (the object's own)
                return refused(str(exc))
        return inner
    return wrap
