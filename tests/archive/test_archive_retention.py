"""Retention: only old, archived, ungoverned, unheld nodes are pruned; dry-run lists and changes nothing."""
import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from governance.archive import holds, retention, services
from governance.archive.models import RetentionPolicy
from devtools.archive_sample import make_model_lineage
from governance.archive.tasks import apply_retention_task
from governance.audit.models import AuditEntry
from lineage.kinds import EdgeKind, NodeKind
from lineage.models import Edge, Node

pytestmark = pytest.mark.django_db
OLD = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def world(users):
    """Three old model lineages: archived+undeployed, archived+deployed (governed), never archived; one recent."""
    archived = make_model_lineage("arc", upstream=8, when=OLD, deployment=False)
    governed = make_model_lineage("gov", upstream=8, when=OLD, deployment=True)
    loose = make_model_lineage("loose", upstream=8, when=OLD, deployment=False)
    recent = make_model_lineage("new", upstream=8, when=timezone.now() - dt.timedelta(days=1), deployment=False)
    for mv in (archived, governed, recent):
        services.build_bundle(mv, users["auditor"], depth=50)
    RetentionPolicy.objects.create(node_kind=NodeKind.RUN, max_age_days=30)
    return {"archived": archived, "governed": governed, "loose": loose, "recent": recent}


def _runs(prefix):
    return set(Node.objects.filter(kind=NodeKind.RUN, source_id__startswith=f"{prefix}-run").values_list("pk", flat=True))


def test_dry_run_lists_decisions_and_changes_nothing(world, capsys):
    nodes, edges, audit = Node.objects.count(), Edge.objects.count(), AuditEntry.objects.count()
    call_command("apply_retention", "--dry-run")
    out = capsys.readouterr().out
    assert (Node.objects.count(), Edge.objects.count(), AuditEntry.objects.count()) == (nodes, edges, audit)
    would = {line.split()[3] for line in out.splitlines() if line.startswith("would prune")}
    assert would == set(map(str, _runs("arc")))
    assert "a governed model version depends on it" in out and "not archived in an evidence bundle yet" in out
    assert f"would prune {len(_runs('arc'))}, kept {len(_runs('gov')) + len(_runs('loose'))}" in out


def test_apply_prunes_only_archived_ungoverned_old_runs_and_audits_each(world):
    arc_runs, gov_runs, loose_runs, new_runs = _runs("arc"), _runs("gov"), _runs("loose"), _runs("new")
    run = retention.apply_retention()
    assert run.pruned == len(arc_runs) > 0
    assert not Node.objects.filter(pk__in=arc_runs).exists()
    assert not Edge.objects.filter(src_id__in=arc_runs).exists() and not Edge.objects.filter(dst_id__in=arc_runs).exists()
    assert _runs("gov") == gov_runs and _runs("loose") == loose_runs and _runs("new") == new_runs
    pruned_entries = AuditEntry.objects.filter(action="node.prune")
    assert {int(e.object_id) for e in pruned_entries} == arc_runs
    assert all(e.before["bundles"] and e.before["edges_removed"] > 0 for e in pruned_entries)
    assert AuditEntry.objects.filter(action="retention.apply").get().after == {"pruned": len(arc_runs), "kept": run.kept}
    # A second run has nothing more to prune.
    assert retention.apply_retention().pruned == 0


def test_legal_hold_blocks_pruning_of_the_closure_until_released(world, users):
    mv = world["archived"]
    hold = holds.place_hold(mv, users["auditor"], "litigation 2026-17")
    decisions = {d.node_id: d for d in retention.plan()}
    for pk in _runs("arc"):
        assert decisions[pk].action == "keep" and decisions[pk].reason == f"under legal hold #{hold.pk}"
    assert retention.apply_retention().pruned == 0
    holds.release_hold(hold, users["admin"], "case closed")
    assert retention.apply_retention().pruned == len(_runs("arc")) or not _runs("arc")
    assert not _runs("arc")


def test_held_nodes_cannot_be_deleted_by_any_path(world, users):
    mv = world["loose"]
    run = Node.objects.get(source_id="loose-run-1")
    dataset = Node.objects.filter(kind=NodeKind.DATASET, source_id__startswith="sample/loose").first()
    hold = holds.place_hold(dataset, users["auditor"], "regulator request")
    # Deletion runs in a transaction of its own here, as a view or command would.
    with pytest.raises(holds.NodeUnderLegalHold), transaction.atomic():
        run.delete()  # downstream of the held dataset
    with pytest.raises(holds.NodeUnderLegalHold), transaction.atomic():
        Node.objects.filter(pk=dataset.pk).delete()  # the held node itself, through a queryset
    assert Node.objects.filter(pk__in=[run.pk, dataset.pk]).count() == 2
    holds.release_hold(hold, users["auditor"], "request withdrawn")
    run.delete()
    dataset.delete()  # a released hold does not pin its node; the hold keeps the node's key
    assert not Node.objects.filter(pk__in=[run.pk, dataset.pk]).exists() and Node.objects.filter(pk=mv.pk).exists()
    hold.refresh_from_db()
    assert hold.node is None and hold.node_source_id == dataset.source_id


def test_disabled_or_young_policies_prune_nothing(world):
    RetentionPolicy.objects.update(enabled=False)
    assert retention.apply_retention().decisions == []
    RetentionPolicy.objects.update(enabled=True, max_age_days=365 * 50)
    assert retention.apply_retention().decisions == []


def test_policy_for_datasets_keeps_what_governed_versions_depend_on(world):
    RetentionPolicy.objects.create(node_kind=NodeKind.DATASET, max_age_days=30)
    run = retention.apply_retention(dry_run=True)
    reasons = {d.node_id: d.reason for d in run.decisions if d.kind == NodeKind.DATASET}
    gov = Node.objects.filter(kind=NodeKind.DATASET, source_id__startswith="sample/gov")
    assert gov and all(reasons[n.pk] == "a governed model version depends on it" for n in gov)


def test_scheduled_task_runs_as_the_retention_service(world, capsys):
    result = apply_retention_task.apply().get()
    assert result["pruned"] == len([e for e in AuditEntry.objects.filter(action="node.prune")]) > 0
    assert set(AuditEntry.objects.filter(action="node.prune").values_list("actor_username", flat=True)) == {"archive:retention"}
    call_command("apply_retention", "--json")
    assert json.loads(capsys.readouterr().out)["pruned"] == 0


def test_deployment_makes_a_version_governed(world):
    governed = retention.governed_model_versions()
    assert world["governed"].pk in governed and world["archived"].pk not in governed
    assert Edge.objects.filter(kind=EdgeKind.DEPLOYED_AS, src=world["governed"]).exists()


def test_retention_is_scheduled_daily_with_celery_beat():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="archive.apply_retention")
    assert task.enabled and task.crontab.hour == "3"
    from celery import current_app

    assert "archive.apply_retention" in current_app.tasks
