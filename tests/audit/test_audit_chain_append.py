"""Appending: each entry links to the one before, batches share one lock, checkpoints come on schedule,
and bad input is refused before anything is written."""
import json

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from common.audit import context
from governance.audit import chain, recorder
from governance.audit.models import AuditCheckpoint, AuditEntry
from governance.audit.verify import verify_chain

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
@hsettings(max_examples=100, deadline=None)
def test_canonical_json_is_the_documented_json_dumps_and_a_fixed_point(value):
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    assert chain.canonical_json(value) == expected
    assert chain.canonical_json(json.loads(expected)) == expected


@pytest.mark.django_db
def test_entries_link_and_record_the_acting_context():
    with context.acting_as(context.AuditContext(user_id=3, username="carol", request_id="r-1", client_ip="10.1.1.1")):
        first = recorder.record("thing.create", "thing", 5, after={"b": 2, "a": [1, "ü"]}, reason="new")
    with context.acting_as(context.AuditContext(service="harvester:kubeflow", request_id="r-2")):
        second = recorder.record("harvest.run", "connector", None, after={"runs": 2})
    assert (first.seq, first.prev_hash) == (1, chain.GENESIS)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    stored = AuditEntry.objects.get(seq=1)
    assert (stored.actor_id, stored.actor_username, stored.request_id, stored.client_ip) == (3, "carol", "r-1", "10.1.1.1")
    assert stored.object_id == "5" and stored.after == {"a": [1, "ü"], "b": 2} and stored.reason == "new"
    assert chain.entry_hash(stored.prev_hash, stored.chain_fields()) == stored.hash
    service = AuditEntry.objects.get(seq=2)
    assert service.actor_username == "harvester:kubeflow" and service.actor_id is None and service.object_id == ""
    assert verify_chain().ok


@pytest.mark.django_db
def test_record_many_appends_a_batch_in_one_go():
    recorder.record("thing.create", "thing", 0)
    rows = recorder.record_many({"action": "thing.bulk", "object_type": "thing", "object_id": i, "after": {"i": i}} for i in range(5))
    assert [r.seq for r in rows] == [2, 3, 4, 5, 6]
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:]))
    assert recorder.record_many([]) == []
    assert verify_chain().ok


@pytest.mark.django_db
@pytest.mark.parametrize(
    "bad, error",
    [
        ({"action": "", "object_type": "thing"}, ValueError),
        ({"action": "x"}, ValueError),
        ({"action": "x", "object_type": "t", "after": {"v": float("nan")}}, ValueError),
        ({"action": "x", "object_type": "t", "before": {"v": float("inf")}}, ValueError),
    ],
)
def test_bad_entries_are_refused_and_nothing_is_written(bad, error):
    recorder.record("thing.create", "thing", 0)
    with pytest.raises(error):
        recorder.record_many([{"action": "ok", "object_type": "t"}, bad])
    assert AuditEntry.objects.count() == 1


@pytest.mark.django_db
def test_periodic_checkpoints_every_n_entries_each_announced(settings):
    settings.AUDIT_CHECKPOINT_EVERY = 3
    for i in range(4):
        recorder.record("thing.update", "thing", i)
    # 1 2 3 -> checkpoint at 3, announced by 4; then 5; the batch 6..9 crosses 6 and 9: one checkpoint, at its end.
    recorder.record_many([{"action": "thing.bulk", "object_type": "thing"}] * 4)
    cps = list(AuditCheckpoint.objects.values_list("seq", flat=True))
    assert cps == [3, 9]
    for seq in cps:
        announcement = AuditEntry.objects.get(seq=seq + 1)
        assert announcement.action == chain.CHECKPOINT_ACTION and announcement.object_id == str(seq)
        assert announcement.after["entry_hash"] == AuditEntry.objects.get(seq=seq).hash
        assert announcement.after["trigger"] == "periodic"
    result = verify_chain()
    assert result.ok and result.checkpoints_verified == 2 and result.unsigned_tail == 0


@pytest.mark.django_db
def test_checkpoints_can_be_switched_off_and_taken_on_demand(settings, capsys):
    from django.core.management import CommandError, call_command

    settings.AUDIT_CHECKPOINT_EVERY = 0
    with pytest.raises(CommandError, match="empty"):
        call_command("audit_checkpoint")
    for i in range(5):
        recorder.record("thing.update", "thing", i)
    assert not AuditCheckpoint.objects.exists()
    call_command("audit_checkpoint", "--reason", "hand-over")
    assert "checkpoint at seq 5" in capsys.readouterr().out
    announcement = AuditEntry.objects.get(seq=6)
    assert announcement.reason == "hand-over" and announcement.actor_username == "cli:audit_checkpoint"
    assert announcement.after["trigger"] == "on_demand"
    # Twice in a row: the second vouches for the first one's announcement.
    assert recorder.checkpoint().seq == 6
    result = verify_chain()
    assert result.ok and result.checkpoints_verified == 2
