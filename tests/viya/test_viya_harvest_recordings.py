"""A harvest over the Viya stand-in built from the 2023.10 recordings ends with what the recordings say
exists — counts and links computed here from the recorded answers — and a second harvest writes nothing."""
from __future__ import annotations

import pytest

from connectors.base import run_harvest
from connectors.models import HarvestStatus
from devtools.viya.fake_server import FakeViya
from devtools.viya.fake_state import ViyaState
from tests.support.viya import connector_for, expected_from_recordings
from lineage.models import Edge, Node, NodeRevision, RawRecord
from tests.conftest import shared_fixture

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def recordings():
    return shared_fixture("viya", "viya_202310")


@pytest.fixture
def fake(recordings):
    with FakeViya(ViyaState.from_recordings(recordings)) as viya:
        yield viya


def _suffix(node):
    return node.source_id.split("/", 1)[1]


def _nodes(kind):
    return {_suffix(n): n for n in Node.objects.filter(source="viya", kind=kind)}


def _edges(kind):
    return {(_suffix(e.src), _suffix(e.dst), e.properties.get("role")) for e in
            Edge.objects.filter(kind=kind, valid_to__isnull=True, source="viya").select_related("src", "dst")}


def test_harvest_ends_with_every_recorded_resource_and_its_links(fake, recordings):
    expected = expected_from_recordings(recordings)
    harvest = run_harvest(connector_for(fake))
    assert harvest.status == HarvestStatus.SUCCEEDED, harvest.error

    assert set(_nodes("repository")) == {f"repository/{r}" for r in expected["repositories"]}
    assert set(_nodes("project")) == {f"project/{p}" for p in expected["projects"]}
    assert set(_nodes("model")) == {f"model/{m}" for m in expected["models"]}
    assert len(expected["models"]) > 5 and len(expected["publishes"]) > 3  # the recordings really hold these

    versions = {f"model/{mid}/version/{b['modelVersionName']}" for mid, b in expected["models"].items()}
    versions |= {f"model/{mid}/version/{b['modelVersionName']}" for (mid, _), b in expected["snapshots"].items()}
    deployed_from = {f"model/{b['modelId']}/version/{b['modelVersionId']}" for b in expected["publishes"].values()}
    model_versions = _nodes("model_version")
    assert versions <= set(model_versions)
    # Publishes of models deleted later leave placeholders: nothing else is a model version.
    assert set(model_versions) - versions <= deployed_from

    contains = _edges("contains")
    for pid, body in expected["projects"].items():
        assert (f"repository/{body['repositoryId']}", f"project/{pid}", None) in contains
    for mid, body in expected["models"].items():
        assert (f"project/{body['projectId']}", f"model/{mid}", None) in contains
    version_of = _edges("version_of")
    assert {(v, v.split("/version/")[0], None) for v in versions} == version_of

    # Contents: every recorded file of a current version, by name and role, on that version's node.
    for mid, body in expected["models"].items():
        node = model_versions[f"model/{mid}/version/{body['modelVersionName']}"]
        want = sorted((c["name"], c.get("role") or "") for (m, _), c in expected["contents"].items() if m == mid)
        got = sorted((c["name"], c["role"]) for c in node.properties["contents"])
        assert got == want, mid

    deployments = _nodes("deployment")
    assert set(deployments) == {f"publish/{p}" for p in expected["publishes"]}
    deployed_as = _edges("deployed_as")
    for pid, body in expected["publishes"].items():
        assert (f"model/{body['modelId']}/version/{body['modelVersionId']}", f"publish/{pid}", None) in deployed_as
        node = deployments[f"publish/{pid}"]
        assert node.properties["state"] == body["state"]
        assert node.properties["destination"] == body["destinationName"]

    # Every node carries the Viya body it came from.
    real = Node.objects.filter(source="viya").exclude(pk__in=[model_versions[v].pk for v in set(model_versions) - versions])
    assert not real.filter(raw__isnull=True).exists()
    assert set(RawRecord.objects.filter(pk__in=real.values("raw")).values_list("source", flat=True)) == {"viya"}
    model = next(iter(expected["models"]))
    assert Node.objects.get(source="viya", kind="model", source_id__endswith=f"/model/{model}").raw.body["id"] == model
    assert harvest.counts["read"]["workflows_skipped"] == 1  # not deployed on the recorded server


def test_second_harvest_writes_nothing(fake):
    first = run_harvest(connector_for(fake))
    snapshot = (Node.objects.count(), Edge.objects.count(), NodeRevision.objects.count(), RawRecord.objects.count())
    second = run_harvest(connector_for(fake))
    assert second.status == HarvestStatus.SUCCEEDED
    assert {k: v for k, v in second.counts.items() if k != "read"} == {
        "raw_created": 0, "nodes_created": 0, "nodes_updated": 0, "edges_created": 0, "edges_closed": 0}
    assert (Node.objects.count(), Edge.objects.count(), NodeRevision.objects.count(), RawRecord.objects.count()) == snapshot
    assert second.counts["read"]["models_changed"] == 0 and first.counts["read"]["models_changed"] > 0


def test_fresh_cursor_over_the_same_data_changes_nothing(fake):
    """Idempotent even without the cursor's help: the store recognises identical facts."""
    run_harvest(connector_for(fake))
    snapshot = (Node.objects.count(), Edge.objects.count(), NodeRevision.objects.count(), RawRecord.objects.count())
    from connectors.models import HarvestCursor

    HarvestCursor.objects.all().delete()
    again = run_harvest(connector_for(fake))
    assert again.counts["nodes_created"] == 0 and again.counts["edges_created"] == 0
    assert again.counts["nodes_updated"] == 0
    assert (Node.objects.count(), Edge.objects.count(), NodeRevision.objects.count(), RawRecord.objects.count()) == snapshot
