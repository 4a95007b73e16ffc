"""Users, group memberships and tokens are governed records: every change is audited with before and after.

Signals rather than explicit calls so that every path (admin, API, management commands, shell) is covered;
they run inside the saving transaction, so the entry and the change land together.
"""
from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from governance.audit.recorder import record

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


@receiver(post_save, sender=Token, dispatch_uid="audit_token_create")
def _audit_token(sender, instance, created, **kwargs):
    if created:
        # The key itself is a secret: record only its prefix.
        record("token.create", "token", instance.user_id, after={"key_prefix": instance.key[:6]})


@receiver(post_delete, sender=Token, dispatch_uid="audit_token_delete")
def _audit_token_delete(sender, instance, **kwargs):
    record("token.delete", "token", instance.user_id, before={"key_prefix": instance.key[:6]})
