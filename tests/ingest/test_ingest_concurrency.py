"""Producers post concurrently: events of one run, and the very same event, arriving at the same time
from several connections all succeed and leave the same graph as posting them one after another."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from lineage.ingest.models import IngestedEvent
from lineage.models import Edge, Node
from tests.conftest import make_user

RUN = "c0ffee00-1111-4222-8333-444455556666"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _events():
    out = []
    for i, (event_type, minute) in enumerate([("START", 0), ("RUNNING", 1), ("RUNNING", 2), ("COMPLETE", 3)]):
        out.append({
            "eventType": event_type, "eventTime": f"2024-09-01T00:0{minute}:00Z", "producer": "https://example.com/c",
            "run": {"runId": RUN, "facets": {"parent": {"_producer": "https://example.com/c", "_schemaURL": "https://x/y",
                                                         "run": {"runId": "c0ffee00-0000-4000-8000-000000000000"},
                                                         "job": {"namespace": "sched", "name": "dag"}}}},
            "job": {"namespace": "conc", "name": "job"},
            "inputs": [{"namespace": "db", "name": f"in{j}"} for j in range(3)],
            "outputs": [{"namespace": "db", "name": "out"}],
        })
    return out


def _state():
    nodes = sorted((n.kind, n.source_id, json.dumps(n.properties, sort_keys=True), n.first_seen, n.last_seen)
                   for n in Node.objects.all())
    edges = sorted((e.kind, e.src.source_id, e.dst.source_id, e.valid_from, e.valid_to)
                   for e in Edge.objects.select_related("src", "dst"))
    return nodes, edges


@pytest.mark.postgres_only  # the live server shares one in-memory SQLite connection between its threads
def test_concurrent_posts_of_one_run_end_like_sequential_ones(live_server, transactional_db):
    user = make_user("racer", "engineer")
    headers = {"Authorization": f"Bearer {user.auth_token.key}", "Content-Type": "application/json"}
    url = live_server.url + "/api/v1/lineage"
    events = _events()
    bodies = [json.dumps(e) for e in events] + [json.dumps(events[3])] * 3  # the same COMPLETE four times

    def post(body):
        return requests.post(url, data=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        responses = list(pool.map(post, bodies))
    assert [r.status_code for r in responses] == [201] * len(bodies), [r.text for r in responses]
    statuses = [r.json()["status"] for r in responses]
    assert statuses.count("created") == 4 and statuses.count("duplicate") == 3
    assert IngestedEvent.objects.count() == 4
    concurrent = _state()
    run = Node.objects.get(kind="run", source_id=RUN)
    assert run.properties["state"] == "COMPLETE"
    assert set(run.properties["event_times"]) == {"START", "RUNNING", "COMPLETE"}

    Edge.objects.all().delete()
    from lineage.models import NodeRevision, RawRecord

    IngestedEvent.objects.all().delete()
    NodeRevision.objects.all().delete()
    Node.objects.all().delete()
    RawRecord.objects.all().delete()
    for body in bodies[:4]:
        assert post(body).status_code == 201
    assert _state() == concurrent


@pytest.mark.postgres_only  # the live server shares one in-memory SQLite connection between its threads
def test_concurrent_batches_about_the_same_new_datasets_each_commit_whole(live_server, transactional_db):
    """Batches of different producers naming the same datasets and jobs, none stored yet, posted at once:
    each creates some of the same nodes, so all but one lose a race on a unique index. Each must still be
    stored as one batch (one `ingest.batch` audit entry, no event replayed one per transaction), every
    event exactly once, and the chain must stay one line."""
    from governance.audit.models import AuditEntry
    from governance.audit.verify import verify_chain
    from devtools.ingest_demo import generate_events

    user = make_user("batcher", "engineer")
    headers = {"Authorization": f"Bearer {user.auth_token.key}", "Content-Type": "application/json"}
    url = live_server.url + "/api/v1/lineage/batch"
    batches = [[e for e in generate_events(seed=seed, n_pipelines=6) if "run" in e] for seed in range(4)]
    for i, batch in enumerate(batches):
        if i % 2:
            batch.reverse()  # the shared nodes met in another order, too

    def post(batch):
        return requests.post(url, data=json.dumps(batch), headers=headers, timeout=120)

    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        responses = list(pool.map(post, batches))
    assert [r.status_code for r in responses] == [200] * len(batches), [r.text[:300] for r in responses]
    for response, batch in zip(responses, batches):
        assert response.json()["summary"] == {"received": len(batch), "successful": len(batch), "failed": 0,
                                               "retriable": 0, "non_retriable": 0, "duplicates": 0}
    assert IngestedEvent.objects.count() == sum(len(b) for b in batches)
    assert AuditEntry.objects.filter(action="ingest.batch").count() == len(batches)
    assert not AuditEntry.objects.filter(action="ingest.event").exists()
    assert Node.objects.filter(kind="dataset", name="dim.customers").count() <= 1
    assert verify_chain().ok
