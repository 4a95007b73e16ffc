"""What other apps (the dashboard) read about approvals, as plain dicts, so they do not need to know the
models. Every function here is read-only."""
from __future__ import annotations

from django.db.models import Count

from governance.approvals import services
from governance.approvals.models import PromotionRequest, RequestState, StageAssignment
from lineage.kinds import NodeKind
from lineage.models import Node


def stage_counts() -> dict[str, int]:
    """Model versions per current stage; versions never promoted count as "none"."""
    counts = dict(StageAssignment.objects.filter(superseded_at__isnull=True).values_list("stage__name")
                  .annotate(n=Count("pk")).values_list("stage__name", "n"))
    staged = sum(counts.values())
    total = Node.objects.filter(kind=NodeKind.MODEL_VERSION).count()
    if total - staged > 0:
        counts["none"] = total - staged
    return counts


def pending_count() -> int:
    return PromotionRequest.objects.filter(state=RequestState.PENDING).count()


def pending_for(user) -> list[int]:
    """Ids of pending requests `user` may decide now (same rules as `?pending_for_me=true`)."""
    return [r.pk for r in PromotionRequest.objects.filter(state=RequestState.PENDING).select_related("node")
            if services.can_decide(user, r) is None]


def model_version(node, user=None) -> dict:
    """Current stage, requests (with their gate checklist and decisions) and stage history of one model
    version; `may_decide` says, per request, whether `user` could decide it."""
    requests = []
    for r in PromotionRequest.objects.filter(node=node).select_related("target_stage", "requester").order_by("-pk"):
        requests.append({
            "id": r.pk,
            "target_stage": r.target_stage.name,
            "state": r.state,
            "requester": r.requester.username,
            "justification": r.justification,
            "created_at": r.created_at,
            # With the facts each gate relied on and who created them, and the manual links it would not
            # rely on (self-supplied or unconfirmed), so the approver sees where the evidence came from.
            "gates": [{"gate": g.gate, "passed": g.passed, "reason": g.reason,
                       "evidence": (g.detail or {}).get("evidence", []),
                       "not_relied_on": (g.detail or {}).get("not_relied_on", [])} for g in services.latest_gates(r)],
            "overrides": [{"gate": o.gate, "reason": o.reason, "by": o.actor.username, "at": o.at}
                          for o in r.gate_overrides.select_related("actor")],
            "decisions": [{"actor": d.actor.username, "decision": d.decision, "comment": d.comment, "at": d.at}
                          for d in r.decisions.select_related("actor")],
            "may_decide": (user is not None and r.state == RequestState.PENDING
                           and services.can_decide(user, r) is None),
        })
    history = [
        {"stage": a.stage.name, "from_stage": a.from_stage.name if a.from_stage_id else None,
         "assigned_at": a.assigned_at, "superseded_at": a.superseded_at, "requested_by": a.requested_by,
         "approved_by": a.approved_by, "request": a.request_id}
        for a in StageAssignment.objects.filter(node=node).select_related("stage", "from_stage").order_by("assigned_at", "pk")
    ]
    current = next((h["stage"] for h in history if h["superseded_at"] is None), None)
    return {"stage": current, "requests": requests, "history": history,
            "gates": requests[0]["gates"] if requests else []}
