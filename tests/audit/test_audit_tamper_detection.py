"""Every way of editing the audit tables behind the application's back is detected and named.

Each test lifts the append-only triggers the way a table owner could (on PostgreSQL `ALTER TABLE …
DISABLE TRIGGER`, on SQLite by dropping them), edits rows with raw SQL, and checks that the verifier, the
management command and the API all report the first broken link at the right seq with the right reason.
"""
import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from governance.audit import append_only, chain, recorder
from governance.audit.models import AuditEntry
from governance.audit.verify import verify_chain

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """The `users` fixture hashes a password per user; the default hasher costs seconds on a busy machine."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def trail(settings):
    """14 entries; checkpoints at 5 and 10, announced by entries 6 and 11."""
    settings.AUDIT_CHECKPOINT_EVERY = 5
    for n in range(12):
        recorder.record("thing.update", "thing", n, before={"n": n}, after={"n": n + 1}, reason=f"edit {n}")
    assert list(AuditEntry.objects.filter(action=chain.CHECKPOINT_ACTION).values_list("seq", flat=True)) == [6, 11]
    assert AuditEntry.objects.count() == 14
    result = verify_chain()
    assert result.ok and result.verified_to == 14 and result.checkpoints_verified == 2
    return settings


def sql(statement, params=()):
    with append_only.suspended(connection), connection.cursor() as cur:
        cur.execute(statement, params)


def renumber(first, delta):
    """Shift seq of entries >= first by delta without tripping the unique index midway."""
    sql("UPDATE audit_auditentry SET seq = -seq WHERE seq >= %s", [first])
    sql("UPDATE audit_auditentry SET seq = -seq + %s WHERE seq < 0", [delta])


def insert_entry(seq, prev_hash, **overrides):
    fields = {
        "seq": seq, "at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "actor_id": None,
        "actor_username": "mallory", "action": "thing.update", "object_type": "thing", "object_id": "x",
        "before": None, "after": None, "request_id": "", "client_ip": None, "reason": "slipped in",
        **overrides,
    }
    hashed = dict(fields, at=fields["at"].isoformat(timespec="microseconds"))
    digest = chain.entry_hash(prev_hash, hashed)
    sql(
        "INSERT INTO audit_auditentry (seq, at, actor_id, actor_username, action, object_type, object_id, "
        "request_id, client_ip, reason, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [seq, fields["at"], None, fields["actor_username"], fields["action"], fields["object_type"],
         fields["object_id"], "", None, fields["reason"], prev_hash, digest],
    )
    return digest


def hash_of(seq):
    return AuditEntry.objects.get(seq=seq).hash


def assert_broken(seq, words):
    result = verify_chain()
    assert not result.ok
    assert result.first_break.seq == seq, result.first_break
    assert words in result.first_break.reason, result.first_break.reason
    assert result.verified_to == (seq - 1 if seq > 1 else None)
    with pytest.raises(CommandError, match=f"broken at seq {seq}"):
        call_command("verify_audit")
    return result


def test_an_intact_trail_verifies_from_the_command(trail, capsys):
    call_command("verify_audit")
    assert "OK: verified seq 1..14" in capsys.readouterr().out


def test_changed_field_is_detected(trail):
    sql("UPDATE audit_auditentry SET reason = 'nothing to see' WHERE seq = 3")
    assert_broken(3, "content does not match its hash")


def test_changed_json_data_is_detected(trail):
    column_value = '{"n": 999}'
    if connection.vendor == "postgresql":
        sql("UPDATE audit_auditentry SET after = %s::jsonb WHERE seq = 8", [column_value])
    else:
        sql("UPDATE audit_auditentry SET after = %s WHERE seq = 8", [column_value])
    assert_broken(8, "content does not match its hash")


def test_deleted_row_is_detected(trail):
    sql("DELETE FROM audit_auditentry WHERE seq = 8")
    result = assert_broken(8, "entries 8 are missing")
    assert result.verified_to == 7


def test_deleted_first_row_is_detected(trail):
    sql("DELETE FROM audit_auditentry WHERE seq = 1")
    assert_broken(1, "entries 1 are missing")


def test_inserted_row_is_detected(trail):
    renumber(8, 1)
    insert_entry(8, hash_of(7))
    assert_broken(9, "prev_hash does not link to entry 8")


def test_inserted_row_with_the_rest_of_the_chain_recomputed_is_caught_by_the_checkpoint(trail):
    """Without a key, a forger can still recompute every later hash; the signed checkpoint then disagrees."""
    renumber(8, 1)
    prev = insert_entry(8, hash_of(7))
    for row in AuditEntry.objects.filter(seq__gte=9).order_by("seq"):
        digest = chain.entry_hash(prev, row.chain_fields())
        sql("UPDATE audit_auditentry SET prev_hash = %s, hash = %s WHERE seq = %s", [prev, digest, row.seq])
        prev = digest
    # Every hash and link checks out now; the checkpoint at seq 10 vouched for a different entry.
    assert_broken(10, "differs from the one its signed checkpoint vouches for")


def test_rewritten_history_with_consistent_hashes_is_caught_by_the_checkpoint(trail):
    """The forger rewrites entry 3's reason and re-hashes everything after it: every link checks out, but
    the entry at seq 5 no longer has the hash the signed checkpoint vouches for."""
    sql("UPDATE audit_auditentry SET reason = 'rewritten' WHERE seq = 3")
    prev = hash_of(2)
    for row in AuditEntry.objects.filter(seq__gte=3).order_by("seq"):
        digest = chain.entry_hash(prev, row.chain_fields())
        sql("UPDATE audit_auditentry SET prev_hash = %s, hash = %s WHERE seq = %s", [prev, digest, row.seq])
        prev = digest
    assert_broken(5, "differs from the one its signed checkpoint vouches for")


def test_reordered_rows_are_detected(trail):
    sql("UPDATE audit_auditentry SET seq = -8 WHERE seq = 8")
    sql("UPDATE audit_auditentry SET seq = 8 WHERE seq = 9")
    sql("UPDATE audit_auditentry SET seq = 9 WHERE seq = -8")
    assert_broken(8, "prev_hash does not link to entry 7")


def test_reordered_timestamps_are_detected(trail):
    sql("UPDATE audit_auditentry SET at = %s WHERE seq = 4", [dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)])
    assert_broken(4, "content does not match its hash")


def test_truncated_tail_past_a_checkpoint_is_detected(trail):
    sql("DELETE FROM audit_auditentry WHERE seq >= 9")
    assert_broken(9, "vouches for entry 10 but the chain ends at 8")


def test_tail_truncated_back_to_a_checkpoint_is_detected(trail):
    """Cutting the tail exactly at the checkpointed entry also removes its announcement: detected."""
    sql("DELETE FROM audit_auditentry WHERE seq >= 11")
    assert_broken(11, "not followed by its announcing entry 11")


def test_forged_checkpoint_signature_is_detected(trail):
    sql("UPDATE audit_auditcheckpoint SET signature = %s WHERE seq = 5", ["ab" * 32])
    assert_broken(5, "signature does not match")


def test_checkpoint_moved_to_another_entry_is_detected(trail):
    sql("UPDATE audit_auditcheckpoint SET seq = 4, entry_hash = %s WHERE seq = 5", [hash_of(4)])
    assert_broken(4, "signature does not match")


def test_forged_extra_checkpoint_is_detected(trail):
    fields = {"seq": 13, "entry_hash": hash_of(13), "created_at": "2026-01-01T00:00:00.000000+00:00"}
    key_id = chain.hmac_key_id(trail.AUDIT_HMAC_KEY.encode())
    forged = chain.hmac_sign(b"guessed-key", {**fields, "key_id": key_id, "algorithm": chain.HMAC_SHA256})
    sql(
        "INSERT INTO audit_auditcheckpoint (seq, entry_hash, created_at, algorithm, key_id, signature) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        [13, fields["entry_hash"], dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), chain.HMAC_SHA256, key_id, forged],
    )
    assert_broken(13, "signature does not match")


def test_checkpoint_signed_with_an_unknown_key_is_detected(trail):
    sql("UPDATE audit_auditcheckpoint SET key_id = 'hmac:attacker' WHERE seq = 10")
    assert_broken(10, "not among the keys given")


def test_deleted_checkpoint_is_detected(trail):
    sql("DELETE FROM audit_auditcheckpoint WHERE seq = 5")
    assert_broken(6, "announces a checkpoint at seq 5 that is missing")


def test_the_api_reports_the_first_broken_link(trail, clients):
    sql("UPDATE audit_auditentry SET actor_username = 'someone-else' WHERE seq = 2")
    body = clients["auditor"].get("/api/audit/verify/").json()
    assert body["ok"] is False
    assert body["first_break"]["seq"] == 2
    assert "content does not match" in body["first_break"]["reason"]
    assert body["verified_from"] == 1 and body["verified_to"] == 1
