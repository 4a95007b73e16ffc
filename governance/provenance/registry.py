"""The model registry: every model version from every source, one row each with what governance knows of it.

One SQL statement per page: a subquery picks the page's ids (filters and sort, on the few columns they
need), the row's stage, last decision, open request, gate status, evidence status and producing
pipeline/job are correlated subqueries on those rows only, and the total is an uncorrelated scalar
subquery of the same statement. No Python runs over all rows and there is no second COUNT query.
Filtering and sorting are the registry filterset's (governance.provenance.filtersets), shared by the API
and the dashboard page.
"""
from __future__ import annotations

from django.db.models import (BooleanField, CharField, DateTimeField, F, IntegerField, OuterRef, Q, Subquery,
                              Value)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, NullIf

from lineage.kinds import NodeKind
from lineage.models import Node

OPEN_STATES = ("draft", "pending", "approved")

def model_versions():
    """Every model version node: `model_version`s and OpenLineage model outputs (see card.is_model_version)."""
    ol_model = Q(kind=NodeKind.DATASET_VERSION, properties__facets__datasetType__datasetType="MODEL")
    return Node.objects.filter(Q(kind=NodeKind.MODEL_VERSION) | ol_model)


def sortable(qs):
    """Only the columns the filters and sorts need (label, stage, last decision time), as ORM expressions:
    this queryset becomes the subquery choosing a page's ids, where Django renames the node table."""
    from governance.approvals.models import Decision, StageAssignment

    current = StageAssignment.objects.filter(node=OuterRef("pk"), superseded_at__isnull=True)
    decisions = Decision.objects.filter(request__node=OuterRef("pk")).order_by("-at", "-pk")
    return qs.annotate(
        label=Coalesce(NullIf(F("display_name"), Value("")), F("name"), output_field=CharField()),
        stage=Subquery(current.values("stage__name")[:1]),
        last_decision_at=Subquery(decisions.values("at")[:1]),
    )


# The registry columns of one row, as correlated scalar subqueries on the outer `lineage_node` (the page's 25
# rows only). Written as SQL because Django's compilation of twenty nested Subquery expressions cost three
# times the statement itself; each subquery is an equality on an indexed column of the row's id.
def _sql_columns() -> dict[str, tuple[str, object]]:
    from governance.approvals.models import (Decision, GateOverride, GateResult, PromotionRequest, Stage,
                                             StageAssignment)
    from governance.archive.models import EvidenceBundle
    from django.contrib.auth import get_user_model

    t = {"sa": StageAssignment._meta.db_table, "st": Stage._meta.db_table, "pr": PromotionRequest._meta.db_table,
         "de": Decision._meta.db_table, "gr": GateResult._meta.db_table, "go": GateOverride._meta.db_table,
         "eb": EvidenceBundle._meta.db_table, "us": get_user_model()._meta.db_table}
    node = "lineage_node.id"
    current = f"FROM {t['sa']} a JOIN {t['st']} s ON s.id = a.stage_id WHERE a.node_id = {node} AND a.superseded_at IS NULL"
    open_req = (f"FROM {t['pr']} r LEFT JOIN {t['st']} s ON s.id = r.target_stage_id WHERE r.node_id = {node} "
                f"AND r.state IN ('draft', 'pending', 'approved') ORDER BY r.created_at DESC, r.id DESC LIMIT 1")
    decision = (f"FROM {t['de']} d JOIN {t['pr']} r ON r.id = d.request_id LEFT JOIN {t['us']} u ON u.id = d.actor_id "
                f"WHERE r.node_id = {node} ORDER BY d.at DESC, d.id DESC LIMIT 1")
    latest = f"(SELECT r.id FROM {t['pr']} r WHERE r.node_id = {node} ORDER BY r.created_at DESC, r.id DESC LIMIT 1)"
    last_eval = f"(SELECT MAX(g2.evaluation) FROM {t['gr']} g2 WHERE g2.request_id = {latest})"
    gates = f"FROM {t['gr']} g WHERE g.request_id = {latest} AND g.evaluation = {last_eval}"
    failing = (f"{gates} AND g.passed = %s AND NOT EXISTS (SELECT 1 FROM {t['go']} o WHERE o.request_id = g.request_id "
               f"AND o.gate = g.gate)")

    def producer_run(target):
        return (f"(SELECT p.src_id FROM lineage_edge p WHERE p.dst_id = {target} AND p.kind = 'produced' "
                f"AND p.valid_to IS NULL ORDER BY p.src_id LIMIT 1)")

    def job_of(target):
        run = producer_run(target)
        # A task run's job is its pipeline run's (parent_of), as KFP records it.
        run = (f"COALESCE((SELECT pp.src_id FROM lineage_edge pp WHERE pp.dst_id = {run} AND pp.kind = 'parent_of' "
               f"AND pp.valid_to IS NULL ORDER BY pp.src_id LIMIT 1), {run})")
        return (f"(SELECT COALESCE(NULLIF(j.display_name, ''), j.name) FROM lineage_edge i JOIN lineage_node j "
                f"ON j.id = i.src_id WHERE i.dst_id = {run} AND i.kind = 'instance_of' AND i.valid_to IS NULL "
                f"ORDER BY j.id LIMIT 1)")

    original = (f"(SELECT s.src_id FROM lineage_edge s WHERE s.dst_id = {node} AND s.kind = 'same_as' "
                f"AND s.valid_to IS NULL ORDER BY s.src_id LIMIT 1)")
    return {
        "label": ("COALESCE(NULLIF(lineage_node.display_name, ''), lineage_node.name)", CharField()),
        "model_name": (f"(SELECT m.name FROM lineage_edge e JOIN lineage_node m ON m.id = e.dst_id WHERE e.src_id = {node} "
                       f"AND e.kind = 'version_of' AND e.valid_to IS NULL ORDER BY e.dst_id LIMIT 1)", CharField()),
        "stage": (f"(SELECT s.name {current} LIMIT 1)", CharField()),
        "stage_since": (f"(SELECT a.assigned_at {current} LIMIT 1)", DateTimeField()),
        "open_request": (f"(SELECT r.id {open_req})", IntegerField()),
        "open_request_state": (f"(SELECT r.state {open_req})", CharField()),
        "open_request_stage": (f"(SELECT s.name {open_req})", CharField()),
        "last_decision": (f"(SELECT d.decision {decision})", CharField()),
        "last_decision_by": (f"(SELECT u.username {decision})", CharField()),
        "last_decision_at": (f"(SELECT d.at {decision})", DateTimeField()),
        "gates_failing": (f"(SELECT COUNT(*) {failing})", IntegerField()),
        "gates_evaluated": (f"(SELECT COUNT(*) {gates})", IntegerField()),
        "has_evidence": (f"EXISTS (SELECT 1 FROM {t['eb']} b WHERE b.subject_source = lineage_node.source "
                         f"AND b.subject_kind = lineage_node.kind AND b.subject_source_id = lineage_node.source_id)",
                         BooleanField()),
        "producer": (f"COALESCE({job_of(node)}, {job_of(original)})", CharField()),
    }


def columns(qs):
    """The registry columns on `qs` (a queryset of the page's rows, not renamed: see _sql_columns)."""
    params = {"gates_failing": [False]}
    return qs.annotate(**{name: RawSQL(sql, params.get(name, []), output_field=field)
                          for name, (sql, field) in _sql_columns().items()})


def gate_status(row: dict) -> str | None:
    if not row.get("gates_evaluated"):
        return None
    return "fail" if row.get("gates_failing") else "pass"


COLUMNS = ("id", "kind", "source", "source_id", "namespace", "name", "display_name", "label", "model_name", "first_seen",
           "last_seen", "stage", "stage_since", "open_request", "open_request_state", "open_request_stage",
           "last_decision", "last_decision_by", "last_decision_at", "gates_failing", "gates_evaluated",
           "has_evidence", "producer")


def page(filtered_qs, *, offset: int = 0, limit: int = 25) -> tuple[list[dict], int]:
    """One page of registry rows (of an `annotate`d, filtered, ordered queryset) and the total matching, in
    ONE statement.

    The page's ids are chosen in a subquery (which computes only what the filters and the sort need), the
    registry columns are computed for those rows only, and the total is an uncorrelated scalar subquery
    counting the filtered ids (evaluated once): a window count over the annotated rows would make SQLite
    compute every column of every matching row before the LIMIT.
    """
    ordering = list(filtered_qs.query.order_by)
    ids = filtered_qs.values("pk")[offset:offset + limit]
    count_sql, count_params = filtered_qs.order_by().values("pk").query.sql_with_params()
    total = RawSQL(f"(SELECT COUNT(*) FROM ({count_sql}) matching)", count_params, output_field=IntegerField())
    rows = list(columns(Node.objects.filter(pk__in=Subquery(ids)))
                .annotate(total=total)
                .order_by(*ordering).values(*COLUMNS, "total"))
    if rows:
        total_count = rows[0]["total"] or 0
    elif offset:
        total_count = filtered_qs.count()  # past the end: only then a count of its own
    else:
        total_count = 0
    for row in rows:
        row.pop("total", None)
        row["gate_status"] = gate_status(row)
    return rows, total_count
