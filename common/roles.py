"""The four roles, held as Django groups so that operators manage them in the admin.

engineer: read everything, ingest lineage, request promotions.
auditor: read everything, export evidence and the audit trail, place legal holds.
approver: read everything, decide promotion requests.
admin: everything, including configuration; Django superusers are admins.
"""
from __future__ import annotations

ENGINEER = "engineer"
AUDITOR = "auditor"
APPROVER = "approver"
ADMIN = "admin"
ALL_ROLES = (ENGINEER, AUDITOR, APPROVER, ADMIN)


def ensure_groups():
    from django.contrib.auth.models import Group

    for name in ALL_ROLES:
        Group.objects.get_or_create(name=name)


def roles_of(user) -> set[str]:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    cached = getattr(user, "_ll_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))
        if user.is_superuser:
            cached.add(ADMIN)
        user._ll_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    """True when the user holds any of `roles`; admin holds every role."""
    held = roles_of(user)
    return bool(held & set(roles)) or ADMIN in held
