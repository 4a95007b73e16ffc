"""A run reads the dataset version committed just before it, even when that version's writer commits
while the reader waits: the reader resolves its input versions only after it holds the dataset's row lock.

(Reading them earlier, with the duplicate check, saved a round trip but let the reader link to the older
version whenever the writer committed in between.)"""
from __future__ import annotations

import pytest

from lineage.ingest import service
from lineage.models import Edge, Node
from tests.support.events import run_event
from tests.support.lock_wait import second_waits_on_first

pytestmark = pytest.mark.postgres_only  # two writers at once need PostgreSQL's row locks


@pytest.mark.django_db(transaction=True)
def test_reader_waiting_on_the_writer_links_to_the_writers_version():
    service.ingest_event(run_event("w1", "write", outputs=["t"], time="2024-04-01T00:00:00Z"))
    second_waits_on_first(
        lambda: service.ingest_event(run_event("w2", "write", outputs=["t"], time="2024-04-01T01:00:00Z")),
        lambda: service.ingest_event(run_event("r-after", "read", inputs=["t"], time="2024-04-01T02:00:00Z")),
        what="the writer's lock on the dataset")

    run = Node.objects.get(kind="run", source_id="r-after")
    consumed = set(Edge.objects.filter(kind="consumed", dst=run, valid_to__isnull=True)
                   .values_list("src__source_id", flat=True))
    assert consumed == {"wh:t@w2"}
