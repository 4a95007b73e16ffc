"""Every state change of a promotion request, with its rules and its audit entry.

The API and the admin are thin: they call these functions, which check the caller's right to act, change
rows and append the audit entry in one transaction. Concurrency: a decision locks the request row
(SELECT … FOR UPDATE on PostgreSQL; on SQLite one writer at a time, plus a process lock for threads) and
the (request, actor) unique constraint makes one approver's second verdict impossible, so two approvers at
the same instant count once each and one approver twice counts once.

State machine:  draft -> pending -> approved | rejected | withdrawn | expired;  approved -> executed.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import threading
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from common import errors
from common.errors import ServiceError
from common.jsonsafe import json_safe
from common.roles import ADMIN, APPROVER, ENGINEER, has_role
from governance.approvals import gates as gate_rules
from governance.approvals import identity, notifications, webhooks, writeback
from governance.approvals.models import (
    Decision,
    DecisionKind,
    Execution,
    ExecutionStatus,
    GateOverride,
    GateResult,
    PromotionRequest,
    RequestState,
    Stage,
    StageAssignment,
    StagePolicy,
    WebhookEvent,
)
from common.audit import record
from lineage.kinds import NodeKind
from lineage.models import Node

_sqlite_writer = threading.Lock()


class ApprovalError(ServiceError):
    """A refused action of the approval workflow (see common.errors for how it reaches the caller)."""


class Invalid(ApprovalError, errors.Invalid):
    pass


class Forbidden(ApprovalError, errors.PermissionRefused):
    pass


class Conflict(ApprovalError, errors.Conflict):
    pass


@contextlib.contextmanager
def _serialized():
    """One writer at a time for request state changes. PostgreSQL uses row locks instead; SQLite has no
    row locks and fails a second writer's upgrade with "database is locked", so threads queue here."""
    if connection.vendor == "sqlite":
        with _sqlite_writer:
            yield
    else:
        yield


def _locked(pk: int) -> PromotionRequest:
    return (PromotionRequest.objects.select_for_update(of=("self",)).select_related("node", "target_stage", "requester")
            .get(pk=pk))


# ---------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------
def current_assignment(node) -> StageAssignment | None:
    return StageAssignment.objects.filter(node=node, superseded_at__isnull=True).select_related("stage").first()


def current_stage(node) -> Stage | None:
    a = current_assignment(node)
    return a.stage if a else None


def latest_gates(req: PromotionRequest) -> list[GateResult]:
    last = req.gate_results.order_by("-evaluation").values_list("evaluation", flat=True).first()
    if last is None:
        return []
    return list(req.gate_results.filter(evaluation=last).order_by("pk"))


def blocking_gates(req: PromotionRequest, results: list[GateResult] | None = None) -> list[GateResult]:
    results = latest_gates(req) if results is None else results
    overridden = set(req.gate_overrides.values_list("gate", flat=True))
    return [g for g in results if not g.passed and g.gate not in overridden]


def approvals_of(req: PromotionRequest) -> list[Decision]:
    return list(req.decisions.filter(decision=DecisionKind.APPROVE).select_related("actor").order_by("at", "pk"))


def is_stale(req: PromotionRequest) -> bool:
    return identity.fingerprint(req.node)[0] != req.fingerprint


def _overrides_by(req: PromotionRequest, user) -> list[str]:
    """The gates `user` overrode on `req` when its policy keeps overriding and approving apart (the default:
    a policy snapshot from before the rule existed has no key, and is held to it too)."""
    if req.policy.get("overrider_may_approve", False):
        return []
    return sorted(req.gate_overrides.filter(actor=user).values_list("gate", flat=True))


def can_decide(user, req: PromotionRequest) -> str | None:
    """None when `user` may decide `req` now, else why not (the same rules `decide` enforces)."""
    if not has_role(user, APPROVER):
        return "Deciding promotions needs the approver role."
    if req.requester_id == user.pk:
        return "Four-eyes rule: you requested this promotion, so someone else must decide it."
    if not req.policy.get("author_may_approve") and identity.is_author(user, req.authors):
        return "Four-eyes rule: the source names you as the model's author, so someone else must decide it."
    if req.decisions.filter(actor=user).exists():
        return "You have already decided this request; each approver counts once."
    return None


# ---------------------------------------------------------------------------------------------------------
# Creating and submitting
# ---------------------------------------------------------------------------------------------------------
def _payload(req: PromotionRequest, **extra) -> dict:
    return {
        "request": req.pk,
        "state": req.state,
        "node": req.node_id,
        "node_name": req.node.display_name or req.node.name,
        "source": req.node.source,
        "source_id": req.node.source_id,
        "target_stage": req.target_stage.name,
        "requester": req.requester.username,
        **extra,
    }


def _evaluate(req: PromotionRequest) -> list[GateResult]:
    number = (req.gate_results.order_by("-evaluation").values_list("evaluation", flat=True).first() or 0) + 1
    now = timezone.now()
    rows = [
        GateResult(request=req, evaluation=number, gate=g.gate, passed=g.passed, reason=g.reason,
                   detail=json_safe(g.detail) or {}, evaluated_at=now)
        for g in gate_rules.evaluate(req.node, req.policy, requester=req.requester, submitted_at=req.submitted_at)
    ]
    GateResult.objects.bulk_create(rows)
    return list(req.gate_results.filter(evaluation=number).order_by("pk"))


def _gate_summary(results) -> list[dict]:
    return [{"gate": g.gate, "passed": g.passed, "reason": g.reason} for g in results]


def create_request(user, *, node: Node, target_stage: Stage, justification: str, submit: bool = False) -> PromotionRequest:
    if not has_role(user, ENGINEER):
        raise Forbidden("Requesting a promotion needs the engineer role.")
    if node.kind != NodeKind.MODEL_VERSION:
        raise Invalid(f"Only model versions can be promoted; node {node.pk} is a {node.kind}.")
    if not (justification or "").strip():
        raise Invalid("A justification is required.")
    if not StagePolicy.objects.filter(stage=target_stage).exists():
        raise Invalid(f"Stage {target_stage.name!r} has no policy yet; an admin must configure one first.")
    current = current_stage(node)
    if current is not None and current.pk == target_stage.pk:
        raise Conflict(f"The model version is already in {target_stage.name}.")
    digest, detail = identity.fingerprint(node)
    try:
        with transaction.atomic():
            req = PromotionRequest.objects.create(
                node=node, target_stage=target_stage, from_stage=current, justification=justification.strip(),
                requester=user, fingerprint=digest, fingerprint_detail=detail, authors=identity.authors(node),
            )
            record("promotion.create", "promotion_request", req.pk, after=req.audit_data())
            if submit:
                _submit(req, user)
    except IntegrityError:
        open_one = PromotionRequest.objects.filter(
            node=node, target_stage=target_stage, state__in=["draft", "pending", "approved"]).first()
        raise Conflict(f"Request #{open_one.pk if open_one else '?'} to promote this model version to "
                       f"{target_stage.name} is still open; withdraw it or wait for its outcome.") from None
    return req


def _submit(req: PromotionRequest, user) -> None:
    policy = StagePolicy.objects.select_related("stage").get(stage=req.target_stage)
    before = req.audit_data()
    now = timezone.now()
    req.policy = policy.snapshot()
    req.state = RequestState.PENDING
    req.submitted_at = now
    req.expires_at = now + dt.timedelta(hours=policy.expiry_hours) if policy.expiry_hours else None
    req.save(update_fields=["policy", "state", "submitted_at", "expires_at"])
    results = _evaluate(req)
    record("promotion.submit", "promotion_request", req.pk, before=before,
           after={**req.audit_data(), "policy": req.policy, "gates": _gate_summary(results)})
    webhooks.enqueue(WebhookEvent.REQUESTED, _payload(req, gates=_gate_summary(results)))
    notifications.pending(req)


def submit(user, pk: int) -> PromotionRequest:
    with _serialized(), transaction.atomic():
        req = _locked(pk)
        if req.requester_id != user.pk and not has_role(user, ADMIN):
            raise Forbidden("Only the requester (or an admin) can submit this request.")
        if req.state != RequestState.DRAFT:
            raise Conflict(f"Only a draft can be submitted; this request is {req.state}.")
        _submit(req, user)
    return req


def withdraw(user, pk: int, reason: str = "") -> PromotionRequest:
    with _serialized(), transaction.atomic():
        req = _locked(pk)
        if req.requester_id != user.pk and not has_role(user, ADMIN):
            raise Forbidden("Only the requester (or an admin) can withdraw this request.")
        if req.state not in (RequestState.DRAFT, RequestState.PENDING):
            raise Conflict(f"Only a draft or pending request can be withdrawn; this one is {req.state}.")
        before = req.audit_data()
        req.state = RequestState.WITHDRAWN
        req.closed_reason = reason.strip()
        req.decided_at = timezone.now()
        req.save(update_fields=["state", "closed_reason", "decided_at"])
        record("promotion.withdraw", "promotion_request", req.pk, before=before, after=req.audit_data(), reason=reason)
        webhooks.enqueue(WebhookEvent.WITHDRAWN, _payload(req, reason=req.closed_reason))
    return req


def evaluate_gates(user, pk: int) -> list[GateResult]:
    """Recompute the checklist now (lineage may have grown since submission)."""
    with _serialized(), transaction.atomic():
        req = _locked(pk)
        if req.state not in (RequestState.DRAFT, RequestState.PENDING):
            raise Conflict(f"Gates are evaluated only while a request is draft or pending; this one is {req.state}.")
        if not req.policy:
            req.policy = StagePolicy.objects.get(stage=req.target_stage).snapshot()
            req.save(update_fields=["policy"])
        results = _evaluate(req)
        record("promotion.evaluate", "promotion_request", req.pk, after={"gates": _gate_summary(results)})
    return results


# ---------------------------------------------------------------------------------------------------------
# Expiry
# ---------------------------------------------------------------------------------------------------------
def _expire(req: PromotionRequest, now) -> None:
    before = req.audit_data()
    req.state = RequestState.EXPIRED
    req.decided_at = now
    req.closed_reason = f"Expired at {req.expires_at.isoformat()} without enough approvals."
    req.save(update_fields=["state", "decided_at", "closed_reason"])
    record("promotion.expire", "promotion_request", req.pk, before=before, after=req.audit_data())
    webhooks.enqueue(WebhookEvent.EXPIRED, _payload(req))


def expire_overdue(now: dt.datetime | None = None) -> int:
    """Expire every pending request past its deadline (a periodic task calls this); returns how many."""
    now = now or timezone.now()
    count = 0
    for pk in PromotionRequest.objects.filter(state=RequestState.PENDING, expires_at__lte=now).values_list("pk", flat=True):
        with _serialized(), transaction.atomic():
            req = _locked(pk)
            if req.state == RequestState.PENDING and req.expires_at and req.expires_at <= now:
                _expire(req, now)
                count += 1
    return count


# ---------------------------------------------------------------------------------------------------------
# Deciding
# ---------------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    request: PromotionRequest
    decision: Decision | None = None
    error: ApprovalError | None = None


def decide(user, pk: int, verdict: str, comment: str = "") -> Outcome:
    """Record one approver's verdict; approve enough times and the request is approved and then executed."""
    if verdict not in DecisionKind.values:
        raise Invalid(f"decision must be approve or reject, not {verdict!r}")
    comment = (comment or "").strip()
    if verdict == DecisionKind.REJECT and not comment:
        raise Invalid("A rejection needs a comment saying why.")
    if not has_role(user, APPROVER):
        raise Forbidden("Deciding promotions needs the approver role.")
    outcome = _decide(user, pk, verdict, comment)
    if outcome.error is not None:
        raise outcome.error
    if outcome.request.state == RequestState.APPROVED:
        outcome.request = execute(None, outcome.request.pk)
    return outcome


def _decide(user, pk: int, verdict: str, comment: str) -> Outcome:
    # Errors found after gate evaluation are returned, not raised, so the checklist the approver was shown
    # (and any expiry) commits with the refusal.
    with _serialized(), transaction.atomic():
        req = _locked(pk)
        now = timezone.now()
        if req.state == RequestState.PENDING and req.expires_at and req.expires_at <= now:
            _expire(req, now)
            return Outcome(req, error=Conflict(f"Request #{req.pk} expired at {req.expires_at.isoformat()}."))
        if req.state != RequestState.PENDING:
            raise Conflict(f"Only a pending request can be decided; this one is {req.state}.")
        why_not = can_decide(user, req)
        if why_not:
            error_class = Conflict if "already decided" in why_not else Forbidden
            raise error_class(why_not)
        if verdict == DecisionKind.APPROVE:
            overrode = _overrides_by(req, user)
            if overrode:
                raise Forbidden(
                    f"Separation of duties: you overrode the gate(s) {', '.join(overrode)} on this request, so "
                    "your approval cannot count; another approver must approve it.")
        digest, detail = identity.fingerprint(req.node)
        if digest != req.fingerprint:
            changed = [k for k in detail if detail[k] != req.fingerprint_detail.get(k)]
            raise Conflict(
                f"Stale request: model version {req.node_id} changed after request #{req.pk} was made "
                f"({', '.join(changed) or 'fingerprint'} differ). Withdraw it and request the promotion again.",
                changed=changed,
            )
        if verdict == DecisionKind.APPROVE:
            results = _evaluate(req)
            blocked = blocking_gates(req, results)
            if blocked:
                record("promotion.approve_refused", "promotion_request", req.pk,
                       after={"gates": _gate_summary(results), "blocked_by": [g.gate for g in blocked]})
                return Outcome(req, error=Conflict(
                    "Failing gate(s) block approval: " + "; ".join(f"{g.gate}: {g.reason}" for g in blocked)
                    + " An admin can override a gate with a written reason.",
                    blocked_by=[g.gate for g in blocked],
                ))
        try:
            with transaction.atomic():
                decision = Decision.objects.create(request=req, actor=user, decision=verdict, comment=comment,
                                                   at=now, fingerprint=digest)
        except IntegrityError:
            raise Conflict("You have already decided this request; each approver counts once.") from None
        record("promotion.decision." + verdict, "promotion_request", req.pk,
               after={"decision": decision.pk, "actor": user.username, "decision_kind": verdict, "comment": comment,
                      "fingerprint": digest})
        before = req.audit_data()
        approvals = approvals_of(req)
        required = int(req.policy.get("required_approvals", 1))
        if verdict == DecisionKind.REJECT:
            req.state = RequestState.REJECTED
        elif len(approvals) >= required:
            req.state = RequestState.APPROVED
        if req.state != RequestState.PENDING:
            req.decided_at = now
            req.save(update_fields=["state", "decided_at"])
            approvers = [d.actor.username for d in approvals]
            record("promotion." + req.state, "promotion_request", req.pk, before=before,
                   after={**req.audit_data(), "approved_by": approvers, "required_approvals": required})
            event = WebhookEvent.APPROVED if req.state == RequestState.APPROVED else WebhookEvent.REJECTED
            webhooks.enqueue(event, _payload(req, approved_by=approvers, decided_by=user.username, comment=comment))
            notifications.decided(req, decision)
        return Outcome(req, decision=decision)


def override_gate(user, pk: int, gate: str, reason: str) -> GateOverride:
    if not has_role(user, ADMIN):
        raise Forbidden("Overriding a gate needs the admin role.")
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("An override needs a written reason.")
    with _serialized(), transaction.atomic():
        req = _locked(pk)
        if req.state not in (RequestState.DRAFT, RequestState.PENDING):
            raise Conflict(f"Gates can be overridden only while a request is draft or pending; this one is {req.state}.")
        if req.requester_id == user.pk:
            raise Forbidden("Four-eyes rule: you cannot override gates on your own request.")
        if (not req.policy.get("overrider_may_approve", False)
                and req.decisions.filter(actor=user, decision=DecisionKind.APPROVE).exists()):
            raise Forbidden("Separation of duties: you approved this request, so you cannot also override its "
                            "gates; another admin must.")
        evaluated = {g.gate: g for g in latest_gates(req)}
        if gate not in evaluated:
            known = ", ".join(evaluated) or "none evaluated yet"
            raise Invalid(f"Gate {gate!r} is not on this request's checklist ({known}).")
        try:
            with transaction.atomic():
                row = GateOverride.objects.create(request=req, gate=gate, reason=reason, actor=user)
        except IntegrityError:
            raise Conflict(f"Gate {gate!r} is already overridden on this request.") from None
        record("promotion.gate_override", "promotion_request", req.pk,
               before={"gate": gate, "passed": evaluated[gate].passed, "reason": evaluated[gate].reason},
               after={"gate": gate, "overridden_by": user.username, "override": row.pk}, reason=reason)
    return row


# ---------------------------------------------------------------------------------------------------------
# Executing
# ---------------------------------------------------------------------------------------------------------
def _evidence(req: PromotionRequest) -> dict:
    bundles = []
    try:
        from governance.archive.models import EvidenceBundle

        bundles = list(EvidenceBundle.objects.filter(
            subject_source=req.node.source, subject_kind=req.node.kind, subject_source_id=req.node.source_id,
        ).order_by("pk").values_list("sha256", flat=True))
    except Exception:  # archive app absent or not migrated: evidence is the checklist alone
        bundles = []
    return {
        "fingerprint": req.fingerprint,
        "gates": _gate_summary(latest_gates(req)),
        "overrides": [{"gate": o.gate, "reason": o.reason, "by": o.actor.username, "at": o.at.isoformat()}
                      for o in req.gate_overrides.select_related("actor")],
        "decisions": [{"actor": d.actor.username, "decision": d.decision, "comment": d.comment, "at": d.at.isoformat()}
                      for d in req.decisions.select_related("actor")],
        "bundles": bundles,
        "justification": req.justification,
    }


def execute(user, pk: int) -> PromotionRequest:
    """Carry out an approved request: act at the source when the policy and connector allow it, then move
    the model version's stage. Idempotent: an executed request is returned as it is, and a source action
    that already succeeded is not repeated. A failed source action leaves the request approved, with the
    error on its Execution row, for an admin to retry."""
    if user is not None and not has_role(user, ADMIN):
        raise Forbidden("Retrying an execution needs the admin role.")
    with _serialized(), transaction.atomic():
        req = _locked(pk)
        if req.state == RequestState.EXECUTED:
            return req
        if req.state != RequestState.APPROVED:
            raise Conflict(f"Only an approved request can be executed; this one is {req.state}.")
        node = req.node
        execution = Execution.objects.filter(request=req).first() or Execution(request=req, status=ExecutionStatus.FAILED)
        if execution.status != ExecutionStatus.SUCCEEDED:
            execution.attempts += 1
            execution.started_at = timezone.now()
            try:
                plan = writeback.plan(req.policy, node)
            except writeback.WriteBackError as exc:
                plan = None
                execution.error = str(exc)
            if plan is not None:
                execution.action = plan.action
                execution.connector = plan.config
                execution.connector_name = plan.config.name if plan.config else ""
                if plan.runs_at_source:
                    try:
                        execution.result = json_safe(writeback.perform(plan, node))
                        execution.status = ExecutionStatus.SUCCEEDED
                        execution.error = ""
                    except Exception as exc:  # recorded on the row and in the audit trail; admin retries
                        execution.status = ExecutionStatus.FAILED
                        execution.error = f"{type(exc).__name__}: {exc}"[:4000]
                else:
                    execution.status = ExecutionStatus.RECORDED
                    execution.note = plan.note
                    execution.error = ""
            else:
                execution.status = ExecutionStatus.FAILED
            execution.finished_at = timezone.now()
            execution.save()
        if execution.status == ExecutionStatus.FAILED:
            record("promotion.execution_failed", "promotion_request", req.pk,
                   after={"action": execution.action, "connector": execution.connector_name, "error": execution.error,
                          "attempts": execution.attempts})
            return req
        now = timezone.now()
        previous = current_assignment(node)
        if previous is not None:
            StageAssignment.objects.filter(pk=previous.pk).update(superseded_at=now)
        approvers = [d.actor.username for d in approvals_of(req)]
        assignment = StageAssignment.objects.create(
            node=node, stage=req.target_stage, from_stage=previous.stage if previous else None, request=req,
            requested_by=req.requester.username, approved_by=approvers, evidence=json_safe(_evidence(req)),
            assigned_at=now,
        )
        before = req.audit_data()
        req.state = RequestState.EXECUTED
        req.executed_at = now
        req.save(update_fields=["state", "executed_at"])
        record("promotion.execute", "promotion_request", req.pk, before=before,
               after={**req.audit_data(), "execution": {"status": execution.status, "action": execution.action,
                                                         "connector": execution.connector_name,
                                                         "result": execution.result, "note": execution.note}})
        record("stage.assign", "model_version", node.pk,
               before={"stage": previous.stage.name if previous else None},
               after={"stage": req.target_stage.name, "assignment": assignment.pk, "request": req.pk,
                      "approved_by": approvers})
        webhooks.enqueue(WebhookEvent.EXECUTED, _payload(req, approved_by=approvers, execution=execution.status,
                                                         result=execution.result))
    return req
