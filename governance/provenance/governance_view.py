"""The governance half of the card: approvals, stage history, gates and evidence of a model version, read
through the approvals and archive apps' own services and visibility rules, cut at `as_of`.

Evidence follows the archive API's rule (auditors and admins see every bundle, others those they built):
the card lists what the caller may see and counts the rest, so a page never says "none archived" to
someone who simply may not see them.
"""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from django.db.models import Q


def _iso(value):
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def _cut(qs, field: str, as_of):
    return qs if as_of is None else qs.filter(**{f"{field}__lte": as_of})


def visible_bundles_queryset(user):
    """The archive API's own queryset for `user` (so the rule lives in one place)."""
    from governance.archive.api.views import EvidenceBundleViewSet

    view = EvidenceBundleViewSet()
    view.request = SimpleNamespace(user=user)
    return view.get_queryset()


def subject_filter(nodes) -> Q:
    condition = Q(pk__in=[])
    for n in nodes:
        condition |= Q(subject_source=n.source, subject_kind=n.kind, subject_source_id=n.source_id)
    return condition


def evidence(nodes, user, as_of=None) -> dict:
    from governance.archive.models import EvidenceBundle

    subject = subject_filter(nodes)
    every = _cut(EvidenceBundle.objects.filter(subject), "created_at", as_of)
    visible = list(_cut(visible_bundles_queryset(user).filter(subject), "created_at", as_of)
                   .order_by("-created_at", "-pk")[:200])
    total = every.count()
    return {
        "bundles": [{"id": b.pk, "sha256": b.sha256, "size": b.size, "node": b.node_id, "subject_name": b.subject_name,
                     "subject_kind": b.subject_kind, "depth": b.depth, "node_count": b.node_count,
                     "created_at": _iso(b.created_at), "created_by": b.created_by_username or None,
                     "download_url": f"/api/archive/bundles/{b.pk}/download/"} for b in visible],
        "hidden_count": max(0, total - len(visible)),
        "total": total,
    }


def approvals(node, as_of=None) -> list[dict]:
    from governance.approvals.models import PromotionRequest

    out = []
    requests = _cut(PromotionRequest.objects.filter(node=node), "created_at", as_of).select_related(
        "target_stage", "from_stage", "requester").prefetch_related("decisions__actor").order_by("-created_at", "-pk")
    for r in requests:
        decisions = [d for d in r.decisions.all() if as_of is None or d.at <= as_of]
        required = int((r.policy or {}).get("required_approvals", 1))
        approvers = [d.actor.username for d in decisions if d.decision == "approve"]
        out.append({
            "id": r.pk, "target_stage": r.target_stage.name, "from_stage": r.from_stage.name if r.from_stage_id else None,
            "state": r.state if as_of is None else _state_at(r, as_of), "requester": r.requester.username,
            "justification": r.justification, "created_at": _iso(r.created_at), "submitted_at": _iso(r.submitted_at),
            "decided_at": _iso(r.decided_at), "executed_at": _iso(r.executed_at),
            "required_approvals": required, "approvals": len(approvers),
            "decisions": [{"actor": d.actor.username, "decision": d.decision, "comment": d.comment, "at": _iso(d.at)}
                          for d in sorted(decisions, key=lambda d: (d.at, d.pk))],
            "open": r.state in ("draft", "pending", "approved") and as_of is None,
        })
    return out


def _state_at(r, as_of) -> str:
    """A request's state as it was at `as_of`, from its own timestamps (states only move forward)."""
    if r.executed_at and r.executed_at <= as_of:
        return "executed"
    if r.decided_at and r.decided_at <= as_of and r.state in ("approved", "rejected", "executed"):
        return "approved" if r.state == "executed" else r.state
    if r.submitted_at and r.submitted_at <= as_of:
        return "pending" if r.state != "draft" else "draft"
    return "draft"


def stage_history(node, as_of=None) -> tuple[str | None, list[dict]]:
    from governance.approvals.models import StageAssignment

    rows = []
    for a in _cut(StageAssignment.objects.filter(node=node), "assigned_at", as_of).select_related(
            "stage", "from_stage").order_by("assigned_at", "pk"):
        superseded = a.superseded_at if (a.superseded_at and (as_of is None or a.superseded_at <= as_of)) else None
        rows.append({"stage": a.stage.name, "from_stage": a.from_stage.name if a.from_stage_id else None,
                     "assigned_at": _iso(a.assigned_at), "superseded_at": _iso(superseded),
                     "requested_by": a.requested_by, "approved_by": list(a.approved_by or []), "request": a.request_id})
    current = next((r["stage"] for r in reversed(rows) if r["superseded_at"] is None), None)
    return current, rows


def gates(node, as_of=None) -> dict:
    """The latest gate evaluation of the latest request (what an approver sees), with overrides."""
    from governance.approvals.models import GateOverride, GateResult, PromotionRequest

    latest = _cut(PromotionRequest.objects.filter(node=node), "created_at", as_of).order_by("-created_at", "-pk").first()
    if latest is None:
        return {"request": None, "evaluated_at": None, "results": []}
    results = _cut(GateResult.objects.filter(request=latest), "evaluated_at", as_of)
    last = results.order_by("-evaluation").values_list("evaluation", flat=True).first()
    overridden = {o.gate: o for o in _cut(GateOverride.objects.filter(request=latest), "at", as_of).select_related("actor")}
    rows = list(results.filter(evaluation=last).order_by("pk")) if last is not None else []
    return {
        "request": latest.pk,
        "evaluated_at": _iso(rows[0].evaluated_at) if rows else None,
        "results": [{"gate": g.gate, "passed": g.passed, "reason": g.reason,
                     "overridden_by": overridden[g.gate].actor.username if g.gate in overridden else None,
                     "override_reason": overridden[g.gate].reason if g.gate in overridden else None}
                    for g in rows],
    }


def for_card(node, subjects, user, as_of=None) -> dict:
    """Governance is recorded against the version asked for; evidence against any of its evidence subjects
    (card.evidence_subjects: a bundle of the Kubeflow artefact is evidence for the Viya version it became)."""
    stage, history = stage_history(node, as_of)
    return {
        "stage": stage,
        "approvals": approvals(node, as_of),
        "stage_history": history,
        "gates": gates(node, as_of),
        "evidence": evidence(subjects, user, as_of),
    }
