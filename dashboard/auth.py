"""Who is calling the dashboard, decided on the server for every request and every callback.

The Django view in `dashboard.views` runs after Django's session and authentication middleware, so it
knows the signed-in user; it hands that user to the Dash (Flask) app through the WSGI environ under
`ENVIRON_KEY`. Callbacks never trust anything the browser sends about identity: they call
`current_user()` / `require_role()` here, which read only that environ entry. A request that reached
Flask any other way (no Django view in front) has no user and is refused.
"""
from __future__ import annotations

from governance.accounts.roles import ADMIN, APPROVER, AUDITOR, ENGINEER, has_role, roles_of

ENVIRON_KEY = "lineage_ledger.user"

# Which roles may open each page, matching what the API lets each role read: the audit log is for
# auditors and admins (AuditorsRead); the archive page is open to every role but lists only the bundles
# the archive API would show that user.
PAGE_ROLES: dict[str, tuple[str, ...]] = {
    "overview": (ENGINEER, AUDITOR, APPROVER, ADMIN),
    "lineage": (ENGINEER, AUDITOR, APPROVER, ADMIN),
    "model": (ENGINEER, AUDITOR, APPROVER, ADMIN),
    "models": (ENGINEER, AUDITOR, APPROVER, ADMIN),
    "approvals": (ENGINEER, AUDITOR, APPROVER, ADMIN),
    "audit": (AUDITOR, ADMIN),
    "archive": (ENGINEER, AUDITOR, APPROVER, ADMIN),
    "connectors": (ENGINEER, AUDITOR, APPROVER, ADMIN),
}


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
    return can(user, *PAGE_ROLES[page])


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
