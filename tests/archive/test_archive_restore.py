"""Restore: a bundle imported into an empty store reproduces the same lineage graph; bad bundles change nothing."""
import io
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command

from governance.archive import services
from governance.archive.models import BundleMember, EvidenceBundle
from devtools.archive_sample import make_model_lineage
from governance.audit.models import AuditEntry
from lineage.models import Edge, Node, NodeRevision, RawRecord

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


def _graph(node_ids=None):
    nodes = Node.objects.all() if node_ids is None else Node.objects.filter(pk__in=node_ids)
    node_set = {(n.source, n.kind, n.source_id, n.name, n.namespace, n.display_name, json.dumps(n.properties, sort_keys=True),
                 n.first_seen, n.last_seen) for n in nodes}
    keys = {n.pk: (n.source, n.kind, n.source_id) for n in nodes}
    edges = Edge.objects.filter(src_id__in=keys, dst_id__in=keys)
    edge_set = {(e.kind, keys[e.src_id], keys[e.dst_id], e.source, e.valid_from, e.valid_to, e.last_seen,
                 json.dumps(e.properties, sort_keys=True)) for e in edges}
    raws = {(r.source, r.kind, r.source_id, r.digest) for r in RawRecord.objects.filter(
        pk__in=[n.raw_id for n in nodes if n.raw_id])}
    return node_set, edge_set, raws


def _flush_lineage():
    BundleMember.objects.all().delete()
    EvidenceBundle.objects.all().delete()
    Edge.objects.all().delete()
    NodeRevision.objects.all().delete()
    Node.objects.all().delete()
    RawRecord.objects.all().delete()


def test_round_trip_reproduces_the_graph(users, tmp_path, settings):
    mv = make_model_lineage("rt", upstream=80, fan_in=3)
    make_model_lineage("noise", upstream=10)  # not part of the bundle
    bundle = services.build_bundle(mv, users["auditor"], depth=50)
    member_ids = list(BundleMember.objects.filter(bundle=bundle).values_list("node_id", flat=True))
    before = _graph(member_ids)
    path = tmp_path / "bundle.zip"
    path.write_bytes(services.bundle_bytes(bundle))

    _flush_lineage()
    settings.DATA_DIR = tmp_path / "empty-instance"
    assert Node.objects.count() == 0
    call_command("restore_bundle", str(path), "--user", "auditor")

    after = _graph()
    assert after[0] == before[0]
    assert after[1] == before[1]
    assert after[2] == before[2]
    assert len(before[0]) == bundle.node_count and len(before[1]) == bundle.edge_count
    restored_mv = Node.objects.get(source=mv.source, kind=mv.kind, source_id=mv.source_id)
    assert restored_mv.archived_at is not None
    assert services.has_bundle(restored_mv)
    restored = EvidenceBundle.objects.get()
    assert restored.restored and restored.sha256 == bundle.sha256 and restored.created_by_username == "auditor"
    entry = AuditEntry.objects.get(action="bundle.restore")
    assert entry.after["sha256"] == bundle.sha256 and entry.actor_username == "auditor"
    assert services.verify_bundle(restored)["ok"]


def test_restore_refuses_a_store_that_already_has_the_nodes(users, tmp_path):
    mv = make_model_lineage("dup", upstream=10)
    path = tmp_path / "b.zip"
    path.write_bytes(services.bundle_bytes(services.build_bundle(mv, users["auditor"])))
    audit_before = AuditEntry.objects.count()
    with pytest.raises(CommandError, match="already exist here"):
        call_command("restore_bundle", str(path))
    # The refusal is audited, and is the only entry added.
    assert AuditEntry.objects.count() == audit_before + 1
    assert AuditEntry.objects.order_by("-seq").first().action == "bundle.restore_refused"
    # --merge adds only what is missing: here nothing.
    nodes = Node.objects.count()
    call_command("restore_bundle", str(path), "--merge")
    assert Node.objects.count() == nodes


def test_restore_refuses_a_tampered_bundle_and_changes_nothing(users, tmp_path):
    mv = make_model_lineage("bad", upstream=10)
    data = services.bundle_bytes(services.build_bundle(mv, users["auditor"]))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["lineage.json"] = members["lineage.json"].replace(b"bad-run-1", b"bad-run-X")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    path = tmp_path / "tampered.zip"
    path.write_bytes(buffer.getvalue())
    _flush_lineage()
    with pytest.raises(CommandError, match="does not verify, nothing was restored: file lineage.json was changed"):
        call_command("restore_bundle", str(path))
    assert Node.objects.count() == 0 and EvidenceBundle.objects.count() == 0
    with pytest.raises(CommandError, match="cannot read"):
        call_command("restore_bundle", str(tmp_path / "missing.zip"))
    with pytest.raises(CommandError, match="no user"):
        call_command("restore_bundle", str(path), "--user", "ghost")


def test_pruned_lineage_comes_back_from_its_bundle(users, tmp_path):
    import datetime as dt

    from governance.archive import retention
    from governance.archive.models import RetentionPolicy
    from lineage.kinds import NodeKind

    mv = make_model_lineage("prn", upstream=15, when=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc), deployment=False)
    bundle = services.build_bundle(mv, users["auditor"], depth=50)
    before = _graph(list(BundleMember.objects.filter(bundle=bundle).values_list("node_id", flat=True)))
    RetentionPolicy.objects.create(node_kind=NodeKind.RUN, max_age_days=30)
    assert retention.apply_retention().pruned > 0
    assert BundleMember.objects.filter(bundle=bundle, node__isnull=True).exists()
    path = tmp_path / "b.zip"
    path.write_bytes(services.bundle_bytes(bundle))
    call_command("restore_bundle", str(path), "--merge")
    assert _graph() == before
    assert not BundleMember.objects.filter(bundle=bundle, node__isnull=True).exists()
    assert EvidenceBundle.objects.count() == 1
