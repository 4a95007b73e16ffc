"""Every app records through common.audit, which governance.audit's ready() wires to the hash chain; with no
recorder installed a governed write fails loudly instead of going unaudited."""
import pytest

import common.audit
from governance.audit import recorder
from governance.audit.models import AuditEntry


def test_the_chain_is_installed_at_start_up():
    assert common.audit._recorder is recorder


@pytest.mark.django_db
def test_a_record_through_the_port_lands_in_the_chain():
    entry = common.audit.record("thing.create", "thing", 3, after={"a": 1})
    many = common.audit.record_many([{"action": "thing.bulk", "object_type": "thing", "object_id": i} for i in (1, 2)])
    assert [e.seq for e in AuditEntry.objects.order_by("seq")] == [entry.seq, *(e.seq for e in many)]
    assert AuditEntry.objects.get(seq=entry.seq).after == {"a": 1}


def test_without_a_recorder_recording_is_an_error(monkeypatch):
    monkeypatch.setattr(common.audit, "_recorder", None)
    with pytest.raises(common.audit.NoRecorder, match="governance.audit"):
        common.audit.record("thing.create", "thing", 1)
    with pytest.raises(common.audit.NoRecorder):
        common.audit.record_many([{"action": "thing.bulk", "object_type": "thing"}])
