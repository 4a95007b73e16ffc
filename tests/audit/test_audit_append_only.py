"""The database itself refuses to change or remove audit rows; the application only ever appends."""
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from governance.audit import recorder
from governance.audit.management.commands.flush import is_test_database
from governance.audit.models import AuditCheckpoint, AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """The `users` fixture hashes a password per user; the default hasher costs seconds on a busy machine."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def entries():
    recorder.record("thing.create", "thing", 1, after={"a": 1})
    recorder.record("thing.update", "thing", 1, before={"a": 1}, after={"a": 2})
    recorder.checkpoint(reason="test")
    return AuditEntry.objects.count()


def refused(statement):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(statement)


@pytest.mark.parametrize("table", ["audit_auditentry", "audit_auditcheckpoint"])
def test_update_and_delete_are_refused(entries, table):
    refused(f"UPDATE {table} SET seq = seq + 100")
    refused(f"DELETE FROM {table}")
    refused(f"DELETE FROM {table} WHERE seq = (SELECT MIN(seq) FROM {table})")
    assert AuditEntry.objects.count() == entries
    assert AuditCheckpoint.objects.count() == 1


@pytest.mark.parametrize("table", ["audit_auditentry", "audit_auditcheckpoint"])
@pytest.mark.postgres_only  # TRUNCATE exists only on PostgreSQL (SQLite's DELETE is refused above)
def test_truncate_is_refused_on_postgresql(entries, table):
    refused(f"TRUNCATE {table}")
    refused(f"TRUNCATE {table} CASCADE")
    assert AuditEntry.objects.count() == entries


def test_the_orm_cannot_update_or_delete_entries_either(entries):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(seq=1).update(reason="edited")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(seq=2).delete()
    assert AuditEntry.objects.get(seq=1).reason == ""


def test_flush_refuses_a_non_test_database(entries, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "NAME", "lineage_ledger")
    if connection.vendor == "sqlite":
        monkeypatch.setattr(connection, "is_in_memory_db", lambda: False)
    assert not is_test_database(connection)
    with pytest.raises(CommandError, match="append-only"):
        call_command("flush", interactive=False)


def test_a_write_rolled_back_takes_its_audit_entry_with_it():
    before = AuditEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        recorder.record("thing.delete", "thing", 7)
        raise RuntimeError("the write failed")
    assert AuditEntry.objects.count() == before


def test_admin_is_read_only(entries, users, client):
    admin = users["admin"]
    admin.is_staff = True
    admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    assert client.get("/admin/audit/auditentry/").status_code == 200
    pk = AuditEntry.objects.get(seq=1).pk
    page = client.get(f"/admin/audit/auditentry/{pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.get("/admin/audit/auditentry/add/").status_code == 403
    assert client.post(f"/admin/audit/auditentry/{pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post("/admin/audit/auditentry/", {"action": "delete_selected", "_selected_action": [pk], "post": "yes"}).status_code in (200, 302)
    assert AuditEntry.objects.filter(seq=1).exists()


@pytest.mark.django_db(transaction=True)
def test_committed_entries_survive_to_a_flush_between_transactional_tests():
    """Transactional tests (and live_server) flush the database afterwards: the flush command lifts the
    triggers on test databases only. This test commits entries; the next one sees an empty trail."""
    recorder.record("thing.create", "thing", 1)
    recorder.checkpoint()
    assert AuditEntry.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_trail_was_flushed_and_the_triggers_are_back():
    assert AuditEntry.objects.count() == 0 and AuditCheckpoint.objects.count() == 0
    recorder.record("thing.create", "thing", 2)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.all().delete()
