"""Users, group memberships and tokens are governed records: every change is audited."""
from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save
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


@receiver(post_save, sender=User, dispatch_uid="audit_user_save")
def _audit_user_save(sender, instance, created, update_fields=None, **kwargs):
    if update_fields and set(update_fields) <= {"last_login"}:
        return
    record("user.create" if created else "user.update", "user", instance.pk, after=_user_data(instance))


@receiver(post_delete, sender=User, dispatch_uid="audit_user_delete")
def _audit_user_delete(sender, instance, **kwargs):
    record("user.delete", "user", instance.pk, before=_user_data(instance))


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="audit_user_groups")
def _audit_roles(sender, instance, action, pk_set, **kwargs):
    if action not in {"post_add", "post_remove", "post_clear"} or not isinstance(instance, User):
        return
    record(
        "user.roles." + action.split("_")[1],
        "user",
        instance.pk,
        after={"roles": sorted(instance.groups.values_list("name", flat=True))},
    )


@receiver(post_save, sender=Token, dispatch_uid="audit_token_create")
def _audit_token(sender, instance, created, **kwargs):
    if created:
        # The key itself is a secret: record only its prefix.
        record("token.create", "token", instance.user_id, after={"key_prefix": instance.key[:6]})


@receiver(post_delete, sender=Token, dispatch_uid="audit_token_delete")
def _audit_token_delete(sender, instance, **kwargs):
    record("token.delete", "token", instance.user_id, before={"key_prefix": instance.key[:6]})
