"""The model registry: every model version from every source, one row each with what governance knows of it.

One SQL statement per page: the row's stage, last decision, open request, gate status, evidence status and
producing pipeline/job are correlated subqueries on the page's rows, and the total comes from a window
count in the same statement, so a page costs the same at 10,000 versions as at 100 (no Python over all
rows, no second COUNT query). Filtering and sorting are the registry filterset's
(governance.provenance.filtersets), shared by the API and the dashboard page.
"""
from __future__ import annotations

from django.db.models import (Case, CharField, Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value, When,
                              Window)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, NullIf

from lineage.kinds import NodeKind
from lineage.models import Edge, Node

OPEN_STATES = ("draft", "pending", "approved")

# The name of the job (pipeline) of the run that produced the version, or produced the original it is
# `same_as`; a task run's job is its pipeline run's. Correlated on the outer row (lineage_node.id).
_PRODUCER_SQL = """(
SELECT COALESCE(NULLIF(j.display_name, ''), j.name)
FROM lineage_edge p
LEFT JOIN lineage_edge pp ON pp.dst_id = p.src_id AND pp.kind = 'parent_of' AND pp.valid_to IS NULL
JOIN lineage_edge i ON i.dst_id = COALESCE(pp.src_id, p.src_id) AND i.kind = 'instance_of' AND i.valid_to IS NULL
JOIN lineage_node j ON j.id = i.src_id
WHERE p.kind = 'produced' AND p.valid_to IS NULL
  AND (p.dst_id = lineage_node.id OR p.dst_id IN (
       SELECT s.src_id FROM lineage_edge s WHERE s.dst_id = lineage_node.id AND s.kind = 'same_as' AND s.valid_to IS NULL))
ORDER BY j.id
LIMIT 1)"""


def model_versions():
    """Every model version node: `model_version`s and OpenLineage model outputs (see card.is_model_version)."""
    ol_model = Q(kind=NodeKind.DATASET_VERSION, properties__facets__datasetType__datasetType="MODEL")
    return Node.objects.filter(Q(kind=NodeKind.MODEL_VERSION) | ol_model)


def annotate(qs):
    """The registry columns, as subqueries on each row."""
    from governance.approvals.models import Decision, GateOverride, GateResult, PromotionRequest, StageAssignment
    from governance.archive.models import EvidenceBundle

    current = StageAssignment.objects.filter(node=OuterRef("pk"), superseded_at__isnull=True)
    requests = PromotionRequest.objects.filter(node=OuterRef("pk"))
    open_requests = requests.filter(state__in=OPEN_STATES).order_by("-created_at", "-pk")
    decisions = Decision.objects.filter(request__node=OuterRef("pk")).order_by("-at", "-pk")
    # Two levels down (inside the gate-result subquery), so the node is OuterRef(OuterRef("pk")).
    latest_request = (PromotionRequest.objects.filter(node=OuterRef(OuterRef("pk")))
                      .order_by("-created_at", "-pk").values("pk")[:1])
    last_eval = (GateResult.objects.filter(request=OuterRef("request")).order_by("-evaluation")
                 .values("evaluation")[:1])
    overridden = GateOverride.objects.filter(request=OuterRef("request"), gate=OuterRef("gate"))
    latest_gates = (GateResult.objects.filter(request=Subquery(latest_request))
                    .filter(evaluation=Subquery(last_eval)))
    failing = (latest_gates.filter(passed=False).exclude(Exists(overridden)).order_by()
               .values("request").annotate(n=Count("pk")).values("n")[:1])
    evaluated = latest_gates.order_by().values("request").annotate(n=Count("pk")).values("n")[:1]
    bundles = EvidenceBundle.objects.filter(subject_source=OuterRef("source"), subject_kind=OuterRef("kind"),
                                            subject_source_id=OuterRef("source_id"))
    model = Edge.objects.filter(src=OuterRef("pk"), kind="version_of", valid_to__isnull=True).order_by("dst_id")
    return qs.annotate(
        model_name=Subquery(model.values("dst__name")[:1]),
        stage=Subquery(current.values("stage__name")[:1]),
        stage_since=Subquery(current.values("assigned_at")[:1]),
        open_request=Subquery(open_requests.values("pk")[:1]),
        open_request_state=Subquery(open_requests.values("state")[:1]),
        open_request_stage=Subquery(open_requests.values("target_stage__name")[:1]),
        last_decision=Subquery(decisions.values("decision")[:1]),
        last_decision_by=Subquery(decisions.values("actor__username")[:1]),
        last_decision_at=Subquery(decisions.values("at")[:1]),
        gates_failing=Subquery(failing, output_field=IntegerField()),
        gates_evaluated=Subquery(evaluated, output_field=IntegerField()),
        has_evidence=Exists(bundles),
        producer=RawSQL(_PRODUCER_SQL, [], output_field=CharField()),
        label=Coalesce(NullIf(F("display_name"), Value("")), F("name"), output_field=CharField()),
    )


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
    ONE statement (window count)."""
    qs = filtered_qs.annotate(total=Window(Count("pk")))
    rows = list(qs.values(*COLUMNS, "total")[offset:offset + limit])
    if rows:
        total = rows[0]["total"]
    elif offset:
        total = filtered_qs.count()  # past the end: only then a count of its own
    else:
        total = 0
    for row in rows:
        row.pop("total", None)
        row["gate_status"] = gate_status(row)
    return rows, total
