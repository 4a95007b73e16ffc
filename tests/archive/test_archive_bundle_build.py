"""Building an evidence bundle: contents, hashes, storage, freezing and the audit record."""
import datetime as dt
import hashlib
import io
import json
import zipfile

import pytest

from governance.archive import services, storage
from governance.archive.models import BundleMember, EvidenceBundle
from devtools.archive_sample import make_model_lineage
from governance.audit.models import AuditEntry
from lineage import store
from lineage.kinds import EdgeKind, NodeKind, Source
from lineage.models import Node
from tests.conftest import shared_fixture

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path / "archive"


def _open(bundle):
    return zipfile.ZipFile(io.BytesIO(services.bundle_bytes(bundle)))


def test_bundle_holds_manifest_closure_payloads_audit_and_report(users):
    mv = make_model_lineage("b", upstream=40, fan_in=3)
    bundle = services.build_bundle(mv, users["auditor"], depth=50)
    zf = _open(bundle)
    names = set(zf.namelist())
    manifest = json.loads(zf.read("manifest.json"))
    assert {"manifest.json", "lineage.json", "governance.json", "audit.json", "report.html"} <= names
    assert set(manifest["files"]) == names - {"manifest.json"}
    for name, meta in manifest["files"].items():
        data = zf.read(name)
        assert hashlib.sha256(data).hexdigest() == meta["sha256"] and len(data) == meta["size"]
    assert manifest["created_by"]["username"] == "auditor"
    assert manifest["service"]["name"] == "lineage-ledger" and manifest["service"]["version"]
    assert manifest["format_version"] == 1 and manifest["created_at"]
    assert manifest["subject"]["source_id"] == "b-model/1"

    lineage = json.loads(zf.read("lineage.json"))
    kinds = {n["kind"] for n in lineage["nodes"]}
    assert {"model_version", "run", "dataset", "job", "deployment", "model"} <= kinds
    upstream = {n["ref"] for n in lineage["nodes"] if n["direction"] == "upstream"}
    from lineage import graph

    expected_up = set(graph.reachable([mv.pk], direction="upstream", depth=50)) - {mv.pk}
    assert len(upstream) == len(expected_up) >= 38
    deployment = [n for n in lineage["nodes"] if n["kind"] == "deployment"]
    assert deployment and deployment[0]["direction"] == "downstream"
    edge_kinds = {e["kind"] for e in lineage["edges"]}
    assert {"produced", "consumed", "instance_of", "deployed_as", "version_of"} <= edge_kinds
    # Every edge of the store among the closure's nodes is in the bundle.
    assert len(lineage["edges"]) == bundle.edge_count

    raws = [n for n in names if n.startswith("raw/")]
    assert len(raws) == bundle.raw_count > 0
    first_run = next(n for n in lineage["nodes"] if n["kind"] == "run")
    raw_doc = json.loads(zf.read(first_run["raw"]))
    assert raw_doc["kind"] == "openlineage.RunEvent" and raw_doc["body"]["run"]["runId"] == first_run["source_id"]

    report = zf.read("report.html").decode()
    assert "b-model/1" in report and "b-endpoint" in report and bundle.created_by_username in report

    entry = AuditEntry.objects.get(action="bundle.create", object_id=str(bundle.pk))
    assert entry.after["sha256"] == bundle.sha256 == hashlib.sha256(services.bundle_bytes(bundle)).hexdigest()
    assert entry.actor_username == "auditor"
    assert BundleMember.objects.filter(bundle=bundle).count() == len(lineage["nodes"])


def test_archived_nodes_are_frozen_and_later_harvests_only_add_revisions(users):
    mv = make_model_lineage("f", upstream=10)
    bundle = services.build_bundle(mv, users["admin"])
    mv.refresh_from_db()
    assert mv.archived_at == bundle.created_at
    frozen = Node.objects.filter(archived_at__isnull=False).count()
    assert frozen == bundle.node_count
    key = store.NodeKey(mv.source, mv.kind, mv.source_id)
    store.apply([store.NodeFact(key, name=mv.name, properties={"stage": "production"})])
    mv.refresh_from_db()
    assert mv.properties == {"stage": "candidate"}
    assert mv.revisions.order_by("-pk").first().properties == {"stage": "production"}


def test_a_run_can_be_bundled_with_its_outputs_but_a_dataset_cannot(users):
    mv = make_model_lineage("r", upstream=8)
    run = Node.objects.get(kind=NodeKind.RUN, source_id="r-run-1")
    bundle = services.build_bundle(run, users["auditor"], depth=3)
    lineage = json.loads(_open(bundle).read("lineage.json"))
    refs = {n["ref"]: n for n in lineage["nodes"]}
    assert refs[f"openlineage:model_version:{mv.source_id}"]["direction"] == "downstream"
    dataset = Node.objects.filter(kind=NodeKind.DATASET).first()
    with pytest.raises(services.BundleError):
        services.build_bundle(dataset, users["auditor"])
    with pytest.raises(services.BundleError):
        services.build_bundle(run, users["auditor"], depth=0)
    assert EvidenceBundle.objects.count() == 1


def test_depth_limits_the_upstream_closure(users):
    mv = make_model_lineage("d", upstream=60, fan_in=2)
    shallow = services.build_bundle(mv, users["auditor"], depth=2)
    deep = services.build_bundle(mv, users["auditor"], depth=50)
    assert shallow.node_count < deep.node_count
    lineage = json.loads(_open(shallow).read("lineage.json"))
    assert max(n["distance"] for n in lineage["nodes"] if n["direction"] == "upstream") == 2


def test_has_bundle_answers_for_the_subject_only(users):
    mv = make_model_lineage("h", upstream=6)
    other = make_model_lineage("h2", upstream=6)
    assert not services.has_bundle(mv)
    services.build_bundle(mv, users["auditor"])
    assert services.has_bundle(mv) and services.has_bundle(mv.pk)
    assert not services.has_bundle(other)
    assert not services.has_bundle(999_999)


def test_store_is_content_addressed_and_never_overwrites(users, archive_dir):
    mv = make_model_lineage("s", upstream=5)
    bundle = services.build_bundle(mv, users["auditor"])
    path = archive_dir / bundle.sha256[:2] / f"{bundle.sha256}.zip"
    assert path.read_bytes() == services.bundle_bytes(bundle)
    # The same bytes again: a no-op, same key.
    assert storage.put(path.read_bytes()) == (bundle.sha256, bundle.storage_key)
    # Something else under that name is refused, and the file is left as it is.
    original = path.read_bytes()
    path.write_bytes(b"tampered")
    with pytest.raises(storage.BundleExists):
        storage.put(original)
    assert path.read_bytes() == b"tampered"


def test_raw_openlineage_event_from_the_shared_fixtures_is_bundled_verbatim(users):
    event = json.loads(shared_fixture("openlineage", "events", "001_ol_spec_tests_example_full_event.json").read_text())
    run_id = event["run"]["runId"]
    raw = store.RawPayload(Source.OPENLINEAGE, "openlineage.RunEvent", run_id, event)
    when = dt.datetime.fromisoformat(event["eventTime"].replace("Z", "+00:00"))
    run = store.NodeKey(Source.OPENLINEAGE, NodeKind.RUN, run_id)
    mv = store.NodeKey(Source.OPENLINEAGE, NodeKind.MODEL_VERSION, "fixture-model/1")
    store.apply([
        store.NodeFact(run, name=event["job"]["name"], namespace=event["job"]["namespace"], seen_at=when, raw=raw),
        store.NodeFact(mv, name="fixture-model/1", seen_at=when),
        store.EdgeFact(EdgeKind.PRODUCED, run, mv, Source.OPENLINEAGE, valid_from=when, raw=raw),
    ])
    bundle = services.build_bundle(Node.objects.get(source_id="fixture-model/1"), users["auditor"])
    zf = _open(bundle)
    lineage = json.loads(zf.read("lineage.json"))
    run_doc = next(n for n in lineage["nodes"] if n["kind"] == "run")
    assert json.loads(zf.read(run_doc["raw"]))["body"] == event
