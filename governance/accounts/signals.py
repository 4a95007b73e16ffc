"""Users and group memberships are governed records: every change is audited with before and after; and
every sign-in, sign-out, failed sign-in and lockout is recorded. (Tokens are audited where they are issued
and revoked: governance.accounts.tokens.)

Signals rather than explicit calls so that every path (admin, API, management commands, shell) is covered;
they run inside the saving transaction, so the entry and the change land together.
"""
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from governance.accounts import token_cache
from governance.accounts.models import ApiToken
from common.audit import context, record

User = get_user_model()


def _user_data(user):
    return {
        "username": user.username,
        "email": user.email,
        "is_active": user.is_active,
        "is_superuser": user.is_superuser,
        "is_staff": user.is_staff,
    }


def _roles(user):
    return sorted(user.groups.values_list("name", flat=True))


@receiver(pre_save, sender=User, dispatch_uid="audit_user_before")
def _remember_user(sender, instance, update_fields=None, raw=False, **kwargs):
    if raw or instance.pk is None or (update_fields and set(update_fields) <= {"last_login"}):
        return
    old = User.objects.filter(pk=instance.pk).only("username", "email", "is_active", "is_superuser", "is_staff", "password").first()
    instance._audit_before = (_user_data(old), old.password) if old else None


@receiver(post_save, sender=User, dispatch_uid="audit_user_save")
def _audit_user_save(sender, instance, created, update_fields=None, raw=False, **kwargs):
    if raw or (update_fields and set(update_fields) <= {"last_login"}):
        return
    if created:
        record("user.create", "user", instance.pk, after=_user_data(instance))
        return
    remembered = getattr(instance, "_audit_before", None)
    instance._audit_before = None
    before, old_password = remembered if remembered else (None, None)
    after = _user_data(instance)
    if remembered and old_password != instance.password:
        # The fact of the change, never the hash.
        after["password_changed"] = True
    if before == after:
        return  # a save that changed nothing governed (e.g. a no-op admin save)
    record("user.update", "user", instance.pk, before=before, after=after)


@receiver(post_delete, sender=User, dispatch_uid="audit_user_delete")
def _audit_user_delete(sender, instance, **kwargs):
    record("user.delete", "user", instance.pk, before=_user_data(instance))


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="audit_user_groups")
def _audit_roles(sender, instance, action, reverse, pk_set, **kwargs):
    if reverse or not isinstance(instance, User):
        # Changes made from the group's side (group.user_set.add) name users, not roles; audit per user.
        if reverse and action in {"post_add", "post_remove"}:
            for user in User.objects.filter(pk__in=pk_set or ()):
                record(f"user.roles.{action.split('_')[1]}", "user", user.pk, after={"roles": _roles(user)}, reason=f"via role {instance}")
        return
    if action in {"pre_add", "pre_remove", "pre_clear"}:
        instance._audit_roles_before = _roles(instance)
        return
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    before = getattr(instance, "_audit_roles_before", None)
    after = _roles(instance)
    if before == after:
        return  # adding a role the user already holds changes nothing
    record(
        "user.roles." + action.split("_")[1],
        "user",
        instance.pk,
        before={"roles": before} if before is not None else None,
        after={"roles": after},
    )


def _request_context(request, user=None) -> context.AuditContext:
    """The actor of a sign-in event: the signals fire before (or, for logout, after) the middleware has
    set one, so it is built here from the request."""
    meta = getattr(request, "META", {}) or {}
    request_id = getattr(request, "request_id", None) or context.current().request_id
    if user is not None and getattr(user, "pk", None):
        return context.for_user(user, request_id=request_id, client_ip=meta.get("REMOTE_ADDR"))
    return context.AuditContext(username="anonymous", request_id=request_id, client_ip=meta.get("REMOTE_ADDR"))


def _through_the_web(request) -> bool:
    """A request that came through RequestIdMiddleware: a sign-in over HTTP. login() called by code on a
    request made up for it (the test client's force_login) is no sign-in anybody attempted."""
    return request is not None and hasattr(request, "request_id")


@receiver(user_logged_in, dispatch_uid="audit_login")
def _audit_login(sender, request, user, **kwargs):
    if not _through_the_web(request):
        return
    method = getattr(request, "_ll_login_method", "password")
    record("auth.login", "user", user.pk, after={"method": method, "username": user.username},
           ctx=_request_context(request, user))


@receiver(user_logged_out, dispatch_uid="audit_logout")
def _audit_logout(sender, request, user, **kwargs):
    if user is None or not _through_the_web(request):
        return  # an anonymous visitor "signing out", or code ending a session: nobody signed out
    record("auth.logout", "user", user.pk, after={"username": user.username}, ctx=_request_context(request, user))


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def _audit_login_failed(sender, credentials, request=None, **kwargs):
    if not _through_the_web(request):
        return  # authenticate() called by code (a script, a test client's login()), not a sign-in attempt
    username = str(credentials.get("username") or "")[:150]
    locked = bool(getattr(request, "axes_locked_out", False))
    record("auth.login_failed", "login", username, after={"method": "password", "locked_out": locked},
           reason="account locked after repeated failures" if locked else "wrong username or password",
           ctx=_request_context(request))


@receiver(user_locked_out, dispatch_uid="audit_lockout")
def _audit_lockout(sender, request, username, ip_address, **kwargs):
    record("auth.lockout", "login", str(username or "")[:150],
           after={"ip_address": ip_address, "failure_limit": settings.AXES_FAILURE_LIMIT},
           reason="too many failed password sign-ins", ctx=_request_context(request))


@receiver(post_delete, sender=ApiToken, dispatch_uid="audit_token_delete")
def _audit_token_delete(sender, instance, **kwargs):
    # Tokens are revoked, not deleted; rows go only with their user.
    record("token.delete", "token", instance.pk, before={"name": instance.name, "key_prefix": instance.prefix,
                                                          "user_id": instance.user_id})


# The authentication cache (governance.accounts.token_cache) forgets what these change. Every path that
# changes a token goes through the model (post_save, post_delete) or tokens.revoke (an UPDATE, told there).
@receiver(post_save, sender=ApiToken, dispatch_uid="token_cache_token_save")
@receiver(post_delete, sender=ApiToken, dispatch_uid="token_cache_token_delete")
def _forget_token(sender, instance, **kwargs):
    token_cache.forget(key_hash=instance.key_hash, user_ids=[instance.user_id])


@receiver(post_save, sender=User, dispatch_uid="token_cache_user_save")
@receiver(post_delete, sender=User, dispatch_uid="token_cache_user_delete")
def _forget_user(sender, instance, update_fields=None, **kwargs):
    if update_fields and set(update_fields) <= {"last_login"}:
        return
    token_cache.forget(user_ids=[instance.pk])


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="token_cache_roles")
def _forget_roles(sender, instance, action, reverse, pk_set, **kwargs):
    if not action.startswith("post_"):
        return
    if reverse:  # group.user_set.add(...): the users named; a group's clear() names none, forget all
        token_cache.forget(user_ids=pk_set) if pk_set else token_cache.forget()
    else:
        token_cache.forget(user_ids=[instance.pk])


@receiver(post_save, sender=Group, dispatch_uid="token_cache_group_save")
@receiver(post_delete, sender=Group, dispatch_uid="token_cache_group_delete")
def _forget_all_for_role(sender, instance, created=False, **kwargs):
    if not created:  # a role renamed or deleted: its holders are not worth finding, forget everything
        token_cache.forget()
