"""Every complete OpenLineage fixture event, sent by the real openlineage-python HTTP transport to a live
server: what Marquez accepts is stored and fills the graph, what it refuses gets a 4xx and leaves no row."""
from __future__ import annotations

import json
import uuid

import pytest
import requests
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpCompression, HttpConfig, HttpTransport

from lineage.ingest.models import IngestedEvent
from lineage.models import Edge, Node, NodeRevision, RawRecord
from tests.conftest import make_user, shared_fixture


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The role fixtures hash six passwords per test; the default hasher makes that the slowest part."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _complete_events():
    folder = shared_fixture("openlineage")
    verdicts = json.loads((folder / "validation.json").read_text())
    return [
        (v, json.loads((folder / "events" / v["file"]).read_text()))
        for v in verdicts
        if v["m"]["kind"] == "complete"
    ]


def _client(live_server, token: str, compression) -> OpenLineageClient:
    config = HttpConfig(
        url=live_server.url,
        endpoint="api/v1/lineage",
        auth=ApiKeyTokenProvider({"api_key": token}),
        compression=compression,
        retry={"total": 0},
    )
    return OpenLineageClient(transport=HttpTransport(config))


def _counts():
    return (RawRecord.objects.count(), Node.objects.count(), Edge.objects.count(),
            NodeRevision.objects.count(), IngestedEvent.objects.count())


def _assert_graph_holds(event: dict) -> None:
    kind = "dataset" if "dataset" in event and "run" not in event else "job"
    if kind == "dataset":
        d = event["dataset"]
        assert Node.objects.filter(kind="dataset", namespace=d["namespace"], name=d["name"]).exists()
        return
    job = event["job"]
    assert Node.objects.filter(kind="job", namespace=job["namespace"], name=job["name"]).exists()
    run_id = (event.get("run") or {}).get("runId")
    if run_id:
        run = Node.objects.get(kind="run", source="openlineage", source_id=run_id)
        assert run.properties["job"] == {"namespace": job["namespace"], "name": job["name"]}
        job_node = Node.objects.get(kind="job", namespace=job["namespace"], name=job["name"])
        assert Edge.objects.filter(kind="instance_of", src=job_node, dst=run, valid_to__isnull=True).exists()
    for d in event.get("inputs") or []:
        assert Node.objects.filter(kind="dataset", namespace=d["namespace"], name=d["name"]).exists()
    for d in event.get("outputs") or []:
        assert Node.objects.filter(kind="dataset", namespace=d["namespace"], name=d["name"]).exists()
        if run_id:
            version = Node.objects.get(kind="dataset_version", source_id=f"{d['namespace']}:{d['name']}@{run_id}")
            assert Edge.objects.filter(kind="produced", src__source_id=run_id, dst=version).exists()


@pytest.mark.parametrize("compression", [None, HttpCompression.GZIP], ids=["plain", "gzip"])
def test_every_complete_fixture_through_the_python_client(live_server, transactional_db, compression):
    user = make_user("producer", "engineer")
    client = _client(live_server, user.auth_token.key, compression)
    events = _complete_events()
    assert len(events) == 65
    accepted = 0
    for verdict, event in events:
        before = _counts()
        if verdict["lenient_ok"]:
            # Fixture JSON is not always constructible as client event classes (non-UUID run ids are
            # exactly what Marquez tolerates), so it goes through the client's transport, which serializes
            # dicts with the client's own Serde and sends them as the client does.
            response = client.transport.emit(event)
            assert response.status_code == 201, (verdict["file"], response.text)
            accepted += 1
            _assert_graph_holds(event)
            row = IngestedEvent.objects.order_by("-pk").first()
            if response.json()["status"] == "created":
                assert row.event_kind == verdict["kind"]
                assert row.strict_ok == verdict["strict_ok"], (verdict["file"], row.strict_errors)
                assert row.posted_by == user and row.request_id
        else:
            with pytest.raises(requests.HTTPError) as caught:
                client.transport.emit(event)
            assert caught.value.response.status_code in (400, 422), verdict["file"]
            assert caught.value.response.json()["error"] in ("not_an_event", "unprocessable_event")
            assert _counts() == before, verdict["file"]
    assert accepted == 63
    # 108 repeats an earlier body: one row per distinct event.
    assert IngestedEvent.objects.count() == len({json.dumps(e, sort_keys=True) for v, e in events if v["lenient_ok"]})


def test_client_built_events_are_stored_with_their_run_state(live_server, transactional_db):
    user = make_user("airflow", "engineer")
    client = _client(live_server, user.auth_token.key, HttpCompression.GZIP)
    run = Run(runId=str(uuid.uuid4()))
    job = Job(namespace="airflow", name="daily.load")
    inputs = [InputDataset(namespace="postgres://db:5432", name="raw.orders")]
    outputs = [OutputDataset(namespace="postgres://db:5432", name="mart.orders")]
    client.emit(RunEvent(eventType=RunState.START, eventTime="2024-05-01T00:00:00Z", run=run, job=job,
                         inputs=inputs, outputs=outputs, producer="https://example.com/airflow"))
    client.emit(RunEvent(eventType=RunState.COMPLETE, eventTime="2024-05-01T00:05:00Z", run=run, job=job,
                         inputs=inputs, outputs=outputs, producer="https://example.com/airflow"))
    node = Node.objects.get(kind="run", source_id=run.runId)
    assert node.properties["state"] == "COMPLETE"
    assert node.properties["started_at"].startswith("2024-05-01T00:00:00")
    assert node.properties["ended_at"].startswith("2024-05-01T00:05:00")
    assert IngestedEvent.objects.filter(run_id=run.runId, strict_ok=True).count() == 2


def test_anonymous_client_is_refused_and_nothing_is_stored(live_server, transactional_db):
    make_user("someone", "engineer")
    transport = HttpTransport(HttpConfig(url=live_server.url, endpoint="api/v1/lineage", retry={"total": 0}))
    _verdict, event = _complete_events()[0]
    with pytest.raises(requests.HTTPError) as caught:
        transport.emit(event)
    assert caught.value.response.status_code == 401
    assert IngestedEvent.objects.count() == 0 and RawRecord.objects.count() == 0
