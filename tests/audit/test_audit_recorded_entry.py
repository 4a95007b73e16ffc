"""`record` hands back the entry it appended, built without Model.__init__ (recorder._entry): every field
as stored, its id set, and usable as any model instance (saved state, equality by id)."""
from __future__ import annotations

import pytest

from common.audit import context
from governance.audit import recorder
from governance.audit.models import AuditEntry


@pytest.mark.django_db
def test_the_returned_entry_is_the_stored_row():
    with context.acting_as(context.AuditContext(user_id=None, username="alice", request_id="req-1", client_ip="10.0.0.1")):
        entry = recorder.record("thing.update", "thing", 7, before={"n": 1}, after={"n": 2, "none": None}, reason="why")
    stored = AuditEntry.objects.get(seq=entry.seq)
    assert entry.pk == stored.pk and entry == stored and not entry._state.adding
    for field in AuditEntry._meta.concrete_fields:
        assert getattr(entry, field.attname) == getattr(stored, field.attname), field.name


def test_an_entry_built_without_init_matches_the_models_own():
    values = {"seq": 3, "at": None, "actor_username": "bob", "action": "a", "object_type": "t", "prev_hash": "p",
              "hash": "h"}
    built, made = recorder._entry(values), AuditEntry(**values)
    for field in AuditEntry._meta.concrete_fields:
        assert getattr(built, field.attname) == getattr(made, field.attname), field.name
    assert built._state.adding and built._state.db is None
