"""Who may see and do what in the archive: auditors (and admins) build evidence bundles and see every
bundle and build; engineers and approvers see only the bundles they made and the builds they requested
(a role taken away never exposes another user's evidence); auditors place and release legal holds;
admins write and run retention policies, which auditors may preview."""
from __future__ import annotations

from common.roles import ADMIN, APPROVER, AUDITOR, ENGINEER, has_role
from common.rules import ANY_ROLE, DomainRules

RULES = DomainRules("archive", read=ANY_ROLE, actions={
    "build": (AUDITOR,),        # evidence bundles
    "see_all": (AUDITOR,),      # every bundle and build, not only one's own
    "check_upload": (ENGINEER, APPROVER, AUDITOR),
    "hold": (AUDITOR,),         # place and release legal holds
    "retention": (ADMIN,),      # write and run retention policies
    "preview": (ADMIN, AUDITOR),
})


def _sees_all(user) -> bool:
    return has_role(user, *RULES.roles_for("see_all"))


def visible_to(user):
    """The evidence bundles `user` may see."""
    from governance.archive.models import EvidenceBundle

    qs = EvidenceBundle.objects.select_related("created_by")
    if not RULES.allows(user, "read"):
        return qs.none()
    return qs if _sees_all(user) else qs.filter(created_by=user)


def builds_visible_to(user):
    """The bundle builds `user` may see, by the bundles' own rule on who requested them."""
    from governance.archive.models import BundleBuild

    qs = BundleBuild.objects.all()
    if not RULES.allows(user, "read"):
        return qs.none()
    return qs if _sees_all(user) else qs.filter(requested_by=user)


def can(user, action: str, obj=None) -> bool:
    if action == "read" and obj is not None:
        return visible_to(user).filter(pk=obj.pk).exists()
    return RULES.allows(user, action)
