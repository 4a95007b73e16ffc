"""Legal holds: reasons required, kinds restricted, every placement and release audited."""
import pytest

from governance.archive import holds
from governance.archive.models import LegalHold
from devtools.archive_sample import make_model_lineage
from governance.audit.models import AuditEntry
from lineage.kinds import NodeKind
from lineage.models import Node

pytestmark = pytest.mark.django_db


def test_place_and_release_are_audited_with_reasons(users):
    mv = make_model_lineage("hold", upstream=5)
    hold = holds.place_hold(mv, users["auditor"], "  audit 2026 Q3  ")
    assert hold.active and hold.reason == "audit 2026 Q3" and hold.placed_by == users["auditor"]
    placed = AuditEntry.objects.get(action="legal_hold.place")
    assert placed.object_id == str(hold.pk) and placed.reason == "audit 2026 Q3"
    assert placed.actor_username == "auditor" and placed.after["node"]["id"] == mv.pk
    released = holds.release_hold(hold, users["admin"], "audit finished")
    assert not released.active and released.released_by == users["admin"]
    entry = AuditEntry.objects.get(action="legal_hold.release")
    assert entry.before["released_at"] is None and entry.after["release_reason"] == "audit finished"
    assert entry.actor_username == "admin"
    with pytest.raises(holds.HoldError, match="already released"):
        holds.release_hold(hold, users["admin"], "again")


def test_bad_requests_change_nothing(users):
    mv = make_model_lineage("hb", upstream=5)
    job = Node.objects.filter(kind=NodeKind.JOB).first()
    audit = AuditEntry.objects.count()
    with pytest.raises(holds.HoldError, match="needs a reason"):
        holds.place_hold(mv, users["auditor"], "   ")
    with pytest.raises(holds.HoldError, match="not job"):
        holds.place_hold(job, users["auditor"], "why not")
    hold = holds.place_hold(mv, users["auditor"], "ok")
    with pytest.raises(holds.HoldError, match="needs a reason"):
        holds.release_hold(hold, users["auditor"], "")
    assert LegalHold.objects.count() == 1 and AuditEntry.objects.count() == audit + 1
    assert LegalHold.objects.get().active


def test_hold_protects_both_directions_of_the_closure(users):
    mv = make_model_lineage("hc", upstream=12)
    run = Node.objects.get(source_id="hc-run-1")
    hold = holds.place_hold(run, users["auditor"], "investigation")
    held = holds.held_nodes()
    assert held[run.pk] == [hold.pk]
    assert mv.pk in held  # downstream output of the run
    upstream_ds = Node.objects.filter(kind=NodeKind.DATASET, source_id__startswith="sample/hc-ds-1-").first()
    assert upstream_ds.pk in held
    other = make_model_lineage("other", upstream=5)
    assert other.pk not in held
