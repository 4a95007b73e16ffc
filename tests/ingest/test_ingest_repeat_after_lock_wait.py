"""A repeat of an event that a concurrent transaction is committing is answered "duplicate" once that
transaction commits, without being written and refused first: the duplicate check runs after the row
locks are granted, in the same round trip (lineage.ingest.service._locked_read), so a request that waited
for the other writer's locks sees what that writer committed."""
from __future__ import annotations

import pytest

from lineage.ingest import service
from lineage.ingest.models import IngestedEvent
from lineage.models import RawRecord
from tests.support.events import run_event
from tests.support.lock_wait import second_waits_on_first

pytestmark = pytest.mark.postgres_only  # two writers at once need PostgreSQL's row locks

EVENT = run_event("rep-1", "rep-job", inputs=["rep-in"], outputs=["rep-out"], time="2024-05-01T00:00:00Z")


@pytest.mark.django_db(transaction=True)
def test_a_repeat_waiting_for_the_first_writers_locks_is_a_duplicate_without_a_retry(monkeypatch):
    service.ingest_event(run_event("rep-0", "rep-job", inputs=["rep-in"], outputs=["rep-out"]))  # the nodes exist
    retries = []
    real_reset = service._reset
    monkeypatch.setattr(service, "_reset", lambda group: (retries.append(len(group)), real_reset(group)))
    answers = []
    second_waits_on_first(lambda: answers.append(("writer", service.ingest_event(EVENT).duplicate)),
                          lambda: answers.append(("repeat", service.ingest_event(EVENT).duplicate)),
                          what="the writer's row locks")
    assert sorted(answers) == [("repeat", True), ("writer", False)]
    assert retries == []  # not written, refused by the unique index and written again
    assert IngestedEvent.objects.filter(run_id="rep-1").count() == 1
    assert RawRecord.objects.filter(source_id="rep-1").count() == 1
