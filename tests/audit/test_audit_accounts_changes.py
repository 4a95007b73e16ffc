"""Changes to users, roles and tokens are audited with before and after, never with secrets."""
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from governance.accounts import tokens
from common.roles import ensure_groups
from governance.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def entries(action):
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def test_user_lifecycle_is_audited_with_before_and_after():
    ensure_groups()
    user = get_user_model().objects.create_user("dana", password="pw-" + "y" * 10, email="d@x")
    created = entries("user.create")[-1]
    assert created.after["username"] == "dana" and created.before is None

    user.email = "dana@example.org"
    user.save()
    updated = entries("user.update")[-1]
    assert updated.before["email"] == "d@x" and updated.after["email"] == "dana@example.org"

    user.set_password("another-" + "z" * 10)
    user.save()
    changed = entries("user.update")[-1]
    assert changed.after["password_changed"] is True
    assert "pbkdf2" not in str(changed.after) and "md5" not in str(changed.after)

    count = AuditEntry.objects.count()
    user.save()  # nothing governed changed
    user.last_login = user.date_joined
    user.save(update_fields=["last_login"])
    assert AuditEntry.objects.count() == count

    user.groups.add(Group.objects.get(name="auditor"))
    added = entries("user.roles.add")[-1]
    assert added.before == {"roles": []} and added.after == {"roles": ["auditor"]}
    user.groups.add(Group.objects.get(name="auditor"))  # already held: no entry
    assert len(entries("user.roles.add")) == 1
    user.groups.remove(Group.objects.get(name="auditor"))
    assert entries("user.roles.remove")[-1].before == {"roles": ["auditor"]}
    Group.objects.get(name="engineer").user_set.add(user)
    assert entries("user.roles.add")[-1].after == {"roles": ["engineer"]}
    user.groups.clear()
    assert entries("user.roles.clear")[-1].after == {"roles": []}

    token, key = tokens.issue(user, "laptop")
    created = entries("token.create")[-1]
    assert created.object_id == str(token.pk)
    assert created.after["key_prefix"] == key[:8] and created.after["name"] == "laptop"
    assert key not in str(created.after) and key[8:] not in str(created.after)
    pk = user.pk
    user.delete()
    assert entries("token.delete")[-1].object_id == str(token.pk)
    assert entries("token.delete")[-1].before["user_id"] == pk
    deleted = entries("user.delete")[-1]
    # The username survives the user's deletion in the trail.
    assert deleted.before["username"] == "dana" and deleted.object_id == str(pk)
