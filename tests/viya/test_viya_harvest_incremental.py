"""Incremental Viya harvests: a changed model is re-read and revised, unchanged ones are not even
fetched, a deleted model is marked and let go by its project, and 429s are waited out as Retry-After says."""
from __future__ import annotations

import pytest

from connectors.base import run_harvest
from connectors.viya import client as client_module
from devtools.viya.fake_server import FakeViya, FaultPlan
from tests.support.viya import connector_for, small_state
from lineage.models import Edge, Node

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake():
    with FakeViya(small_state()) as viya:
        yield viya


def test_only_changed_models_are_read_again(fake):
    run_harvest(connector_for(fake))
    mid, body = next(iter(fake.state.items("model").items()))
    fake.state.put("model", mid, {**body, "description": "retrained", "modifiedTimeStamp": "2026-02-01T10:00:00.5Z"})
    fake.calls.clear()
    second = run_harvest(connector_for(fake))
    assert second.counts["read"]["models_changed"] == 1
    detail_reads = {c.path for c in fake.calls if "/modelVersions" in c.path or c.path.endswith("/contents")}
    assert detail_reads == {f"/modelRepository/models/{mid[0]}/modelVersions", f"/modelRepository/models/{mid[0]}/contents"}
    node = Node.objects.get(source="viya", kind="model", source_id__endswith=f"/model/{mid[0]}")
    assert node.properties["description"] == "retrained"
    assert [r.properties.get("description") for r in node.revisions.order_by("valid_from", "pk")] == [None, "retrained"]
    assert str(node.revisions.order_by("-valid_from").first().valid_from.date()) == "2026-02-01"


def test_deleted_model_is_marked_and_no_longer_contained(fake):
    run_harvest(connector_for(fake))
    (mid,), body = next(iter(fake.state.items("model").items()))
    fake.state.resources["model"].pop((mid,))
    run_harvest(connector_for(fake))
    node = Node.objects.get(source="viya", kind="model", source_id__endswith=f"/model/{mid}")
    assert node.properties["deleted"] is True and node.properties["current_version"] == body["modelVersionName"]
    held = Edge.objects.get(dst=node, kind="contains")
    assert held.valid_to is not None
    others = Edge.objects.filter(kind="contains", valid_to__isnull=True, dst__kind="model")
    assert others.count() == len(fake.state.items("model"))


def test_retry_after_is_honoured(fake, monkeypatch):
    waits = []
    monkeypatch.setattr(client_module.time, "sleep", waits.append)
    fake.faults = FaultPlan(every=3, kinds=("429",), retry_after="7")
    harvest = run_harvest(connector_for(fake))
    assert harvest.status == "succeeded"
    assert fake.faults.injected["429"] >= 1 and len(waits) == fake.faults.injected["429"]
    assert all(w >= 7 for w in waits)
