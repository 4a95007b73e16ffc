"""DRF permission classes built on roles. Every API view names one of these; none relies on the UI."""
from rest_framework.permissions import SAFE_METHODS, BasePermission

from common.roles import ADMIN, APPROVER, AUDITOR, ENGINEER, has_role, roles_of


def _method_not_allowed(request, view) -> bool:
    """A method the view has no handler for: let DRF answer 405 (the permission would say 403, and a
    refused write is audited as a refusal of something that does not exist). Without a view (the dashboard
    asking the API's rule directly) there is no handler to miss: the role decides."""
    if view is None:
        return False
    return request.method.lower() not in ("options", "head") and not hasattr(view, request.method.lower())


class RoleReadOnlyOrDeny(BasePermission):
    """Default: any user holding a role may read; writes need a view-specific permission."""

    message = "You need a role (engineer, auditor, approver or admin) to read, and more to write."

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        if _method_not_allowed(request, view):
            return True
        return request.method in SAFE_METHODS and bool(roles_of(request.user))


def role_permission(*write_roles: str, read_roles: tuple[str, ...] | None = None):
    """A permission class: reading needs any role (or `read_roles`), writing needs one of `write_roles`."""

    class _RolePermission(BasePermission):
        message = f"This action needs the role: {' or '.join(write_roles)}."

        def has_permission(self, request, view):
            if not (request.user and request.user.is_authenticated):
                return False
            if _method_not_allowed(request, view):
                return True
            if request.method in SAFE_METHODS:
                # The refusal names the roles that may read, not those that may write.
                self.message = (f"Reading this needs the role: {' or '.join(read_roles)}." if read_roles
                                else RoleReadOnlyOrDeny.message)
                return has_role(request.user, *read_roles) if read_roles else bool(roles_of(request.user))
            return has_role(request.user, *write_roles)

    _RolePermission.__name__ = "Role_" + "_".join(write_roles)
    return _RolePermission


CanIngest = role_permission(ENGINEER)
IsAdminRole = role_permission(ADMIN, read_roles=(ADMIN,))
AuditorsRead = role_permission(ADMIN, read_roles=(AUDITOR, ADMIN))
CanApprove = role_permission(APPROVER)
