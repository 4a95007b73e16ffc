"""`make demo`'s registry history: versions promoted through the real approvals service, so the registry
page has stages, decisions, gates and evidence to filter on, and the compliance officer's walk (registry →
a production version → its card) has a production version whose story crosses Viya and Kubeflow.

Runs after the harvests (load_demo). Safe to run twice: a version already in its target stage, or with an
open request for it, is left as it is.
"""
from __future__ import annotations

from common.audit import context


def _promote(node, stage_name: str, requester, approvers, *, evidence_by=None, comment: str = "",
             override_by=None) -> str:
    from governance.approvals import services
    from governance.approvals.models import OPEN_STATES, PromotionRequest, Stage
    from governance.archive.services import build_bundle, has_bundle

    stage = Stage.objects.get(name=stage_name)
    current = services.current_stage(node)
    if current is not None and current.order >= stage.order:
        return f"{node.name}: already {current.name}"
    if PromotionRequest.objects.filter(node=node, target_stage=stage, state__in=OPEN_STATES).exists():
        return f"{node.name}: a request for {stage_name} is open"
    if evidence_by is not None and not has_bundle(node):
        with context.acting_as(context.for_user(evidence_by)):
            build_bundle(node, evidence_by)
    with context.acting_as(context.for_user(requester)):
        req = services.create_request(requester, node=node, target_stage=stage, submit=True,
                                      justification=f"Validated on the holdout set; promote to {stage_name}.")
    if override_by is not None:
        # SAS-built scorecards have no harvested training run: an admin lets that gate pass, in writing.
        for gate in services.blocking_gates(req):
            with context.acting_as(context.for_user(override_by)):
                services.override_gate(override_by, req.pk, gate.gate,
                                       "Built in SAS Model Studio; its training run is not harvested. Validation "
                                       "report reviewed by model risk instead.")
    for approver in approvers:
        if req.state != "pending":
            break
        with context.acting_as(context.for_user(approver)):
            try:
                req = services.decide(approver, req.pk, "approve", comment or "Metrics and lineage checked.").request
            except services.ApprovalError as exc:
                return f"{node.name}: {stage_name} request #{req.pk} refused: {exc.message}"
    return f"{node.name}: {stage_name} request #{req.pk} {req.state}"


def load_demo(users) -> str:
    """Promote a few harvested versions (the first stitched churn-classifier to production, scorecards to
    staging and production), reject one, leave one pending."""
    from governance.approvals import services
    from lineage.models import Node

    alice, bob, carol, dave = (users[n] for n in ("alice", "bob", "carol", "dave"))
    done = []
    churn = (Node.objects.filter(source="viya", kind="model_version", name__startswith="churn-classifier",
                                 in_edges__kind="same_as").distinct().order_by("name").first())
    if churn is not None:
        done.append(_promote(churn, "staging", alice, [bob]))
        done.append(_promote(churn, "production", alice, [bob, carol], evidence_by=dave))
    scorecards = list(Node.objects.filter(source="viya", kind="model_version", name__startswith="pd-")
                      .order_by("name")[:12])
    for i, node in enumerate(scorecards[:6]):
        done.append(_promote(node, "staging", alice, [(bob, carol)[i % 2]], override_by=users["admin"]))
    if len(scorecards) > 7:
        node = scorecards[7]
        if not node.promotion_requests.exists():
            with context.acting_as(context.for_user(alice)):
                req = services.create_request(alice, node=node, target_stage=services.Stage.objects.get(name="staging"),
                                              justification="Recalibrated on Q3 defaults.", submit=True)
            with context.acting_as(context.for_user(carol)):
                services.decide(carol, req.pk, "reject", "KS dropped below the segment's floor; recalibrate again.")
            done.append(f"{node.name}: staging request #{req.pk} rejected")
    if len(scorecards) > 8:
        node = scorecards[8]
        if not node.promotion_requests.exists():
            with context.acting_as(context.for_user(alice)):
                req = services.create_request(alice, node=node, target_stage=services.Stage.objects.get(name="staging"),
                                              justification="New segment model, first review.", submit=True)
            done.append(f"{node.name}: staging request #{req.pk} pending")
    return "; ".join(done) or "no harvested model versions to promote"
