"""restore_bundle trusts only what is vouched for: a self-consistent forged bundle (genuine audit.json and
signature, rewritten lineage, a manifest claiming `admin` and a backdated time) is refused; restored as
--untrusted with a reason it is confined (existing nodes untouched and unfrozen, no edges into live data,
the operator recorded, never reported verified, no gate evidence); a genuine bundle is restored as verified."""
import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command

from governance.archive import services
from governance.archive.models import EvidenceBundle
from devtools.archive_sample import make_model_lineage
from governance.audit.models import AuditEntry
from lineage import store
from lineage.models import Edge, Node
from tests.support import crafted_zips

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


def _forge(genuine: bytes, live: Node) -> bytes:
    """Claim the live node with other properties, hang a new node under it, and claim admin made it in 2020."""
    members = crafted_zips.members_of(genuine)
    lineage = json.loads(members["lineage.json"])
    template = lineage["nodes"][0]
    live_ref = f"{live.source}:{live.kind}:{live.source_id}"
    forged_live = {**template, "ref": live_ref, "source": live.source, "kind": live.kind, "source_id": live.source_id,
                   "name": live.name, "properties": {"stage": "production", "owner": "mallory"}, "raw": None,
                   "revisions": [], "direction": "upstream", "distance": 1}
    new = {**forged_live, "ref": "openlineage:dataset:forged-output", "kind": "dataset", "source": "openlineage",
           "source_id": "forged-output", "name": "forged-output", "properties": {"planted": True}}
    lineage["nodes"] += [forged_live, new]
    lineage["edges"].append({"id": 1, "kind": "produced", "src": live_ref, "dst": new["ref"], "source": "openlineage",
                             "valid_from": template["first_seen"], "valid_to": None, "last_seen": template["first_seen"],
                             "properties": {}, "raw": None})
    members["lineage.json"] = json.dumps(lineage).encode()

    def claim(manifest):
        manifest["counts"]["nodes"] += 2
        manifest["counts"]["edges"] += 1
        manifest["created_by"] = {"id": 1, "username": "admin"}
        manifest["created_at"] = "2020-01-01T00:00:00.000000+00:00"
    return crafted_zips.write(crafted_zips.resign(members, manifest_edit=claim))


@pytest.fixture
def scene(users, tmp_path):
    mv = make_model_lineage("trust", upstream=4)
    genuine = services.bundle_bytes(services.build_bundle(mv, users["auditor"], depth=5))
    live = store.apply([store.NodeFact(store.NodeKey("kubeflow", "model_version", "live-mv"), name="live-mv",
                                       properties={"stage": "staging"})]).nodes[store.NodeKey("kubeflow", "model_version", "live-mv")]
    path = tmp_path / "forged.zip"
    path.write_bytes(_forge(genuine, live))
    return {"mv": mv, "live": live, "forged": path, "genuine": genuine}


def _state(node):
    node.refresh_from_db()
    return node.properties, node.archived_at, node.last_seen


def test_a_forged_bundle_is_refused_and_changes_nothing(scene):
    before = _state(scene["live"])
    counts = (Node.objects.count(), Edge.objects.count(), EvidenceBundle.objects.count())
    with pytest.raises(CommandError, match="nothing vouches for the bundle's SHA-256"):
        call_command("restore_bundle", str(scene["forged"]), "--merge")
    with pytest.raises(CommandError, match="--untrusted needs --reason"):
        call_command("restore_bundle", str(scene["forged"]), "--merge", "--untrusted")
    assert _state(scene["live"]) == before
    assert (Node.objects.count(), Edge.objects.count(), EvidenceBundle.objects.count()) == counts
    refused = AuditEntry.objects.get(action="bundle.restore_refused")
    assert "nothing vouches" in refused.reason


def test_an_untrusted_restore_is_confined_recorded_and_never_verified(scene, capsys):
    before = _state(scene["live"])
    started = dt.datetime.now(dt.timezone.utc)
    call_command("restore_bundle", str(scene["forged"]), "--merge", "--untrusted", "--reason", "case 42: look only",
                 "--user", "auditor")
    out = capsys.readouterr().out
    assert "untrusted" in out and "conflict: kubeflow:model_version:live-mv: exists here with other properties" in out
    # The live node: same properties, not frozen, no edge added to it.
    assert _state(scene["live"]) == before
    assert not Edge.objects.filter(src=scene["live"]).exists()
    planted = Node.objects.get(source_id="forged-output")
    assert planted.archived_at is not None  # what the restore added is frozen, nothing else
    bundle = EvidenceBundle.objects.get(restored=True)
    assert bundle.trust == "untrusted" and bundle.untrusted_reason == "case 42: look only"
    assert bundle.created_by_username == "auditor" and bundle.created_at >= started
    assert (bundle.claimed_created_by, bundle.claimed_created_at.year) == ("admin", 2020)
    checked = services.verify_bundle(bundle)
    assert checked["ok"] is False and "restored without a verified signature" in checked["problem"]
    assert not services.has_bundle(scene["live"])
    entry = AuditEntry.objects.get(action="bundle.restore")
    assert entry.actor_username == "auditor" and entry.after["trust"] == "untrusted"
    assert entry.after["untrusted_reason"] == "case 42: look only" and entry.after["claimed_created_by"]["username"] == "admin"


def test_a_genuine_bundle_restores_as_verified_and_merge_leaves_existing_nodes_alone(scene, tmp_path, capsys):
    mv = scene["mv"]
    # A node that differs from the bundle and is not frozen (as if a later build had not frozen it).
    Node.objects.filter(pk=mv.pk).update(properties={"changed": "after the bundle"}, archived_at=None)
    mv.refresh_from_db()
    before = (mv.properties, mv.archived_at)
    upstream = Node.objects.exclude(pk__in=[mv.pk, scene["live"].pk]).order_by("pk").first()
    upstream_key = (upstream.source, upstream.kind, upstream.source_id)
    upstream.delete()  # as retention would prune it
    path = tmp_path / "genuine.zip"
    path.write_bytes(scene["genuine"])
    call_command("restore_bundle", str(path), "--merge")
    out = capsys.readouterr().out
    assert "verified" in out and f"conflict: {mv.source}:{mv.kind}:{mv.source_id}" in out
    mv.refresh_from_db()
    assert (mv.properties, mv.archived_at) == before
    assert Node.objects.filter(source=upstream_key[0], kind=upstream_key[1], source_id=upstream_key[2]).exists()
    bundle = EvidenceBundle.objects.get(sha256=services.hashlib.sha256(scene["genuine"]).hexdigest())
    assert services.verify_bundle(bundle)["ok"]
