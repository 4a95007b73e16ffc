"""One real object behind every detail URL of the API, and a body that makes each write succeed: what a
test needs to walk every operation of the OpenAPI schema (tests/test_audit_walk_every_write.py)."""
from __future__ import annotations

from drf_spectacular.generators import SchemaGenerator

from common.roles import ADMIN, APPROVER, AUDITOR, ENGINEER
from tests.support import schema_paths

EVENT = {"eventType": "COMPLETE", "eventTime": "2025-01-01T00:00:00Z", "producer": "https://example.test/p",
         "run": {"runId": "0190a5b6-0000-7000-8000-000000000001"}, "job": {"namespace": "ns", "name": "walk"},
         "inputs": [{"namespace": "ns", "name": "in"}], "outputs": []}


def schema_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted((method.upper(), path) for path, ops in schema["paths"].items() for method in ops
                  if method in {"get", "post", "put", "patch", "delete"})


def build_world(users) -> dict:
    from connectors.models import ConnectorConfig
    from governance.approvals import services as approvals
    from governance.approvals.models import Decision, Stage, StageAssignment, StagePolicy, WebhookDelivery, \
        WebhookSubscription
    from tests.support.approvals import node as make_node, open_policy
    from governance.audit.models import AuditEntry
    from lineage.ingest import service
    from lineage.ingest.models import IngestedEvent
    from lineage.kinds import NodeKind
    from lineage.models import Edge, Node, RawRecord

    from tests.support.world import evidence_and_connector

    mv, bundle, build, hold, policy, checkpoint, connector, harvest = evidence_and_connector(users, "walk")
    service.ingest_event(EVENT, users[ENGINEER])
    open_policy("staging")
    staging = Stage.objects.get(name="staging")
    # Approved but not executed: its stage asks for an action at a source no connector reaches, so the
    # execution that follows the approval fails and waits for an admin's retry (POST …/execute/): two
    # connectors of the node's source, neither matching its namespace, so write-back cannot choose.
    from tests.support.approvals import SOURCE

    for name in ("src-a", "src-b"):
        ConnectorConfig.objects.create(name=name, kind=SOURCE, enabled=True, write_back_enabled=True,
                                       settings={"namespace": name})

    retry_stage = Stage.objects.create(name="retry", order=35)
    StagePolicy.objects.create(stage=retry_stage, require_producing_run=False, max_training_hops=None,
                               forbid_failed_runs=False, source_actions={SOURCE: {"action": "set_champion"}})
    approved = approvals.create_request(users[ENGINEER], node=make_node(NodeKind.MODEL_VERSION, "walk-approved"),
                                        target_stage=retry_stage, justification="j", submit=True)
    approvals.decide(users[APPROVER], approved.pk, "approve", "ok")
    assert approvals.PromotionRequest.objects.get(pk=approved.pk).state == "approved"
    executed = approvals.create_request(users[ENGINEER], node=make_node(NodeKind.MODEL_VERSION, "walk-executed"),
                                        target_stage=staging, justification="j", submit=True)
    approvals.decide(users[APPROVER], executed.pk, "approve", "ok")  # executed at once: a stage assignment
    pending = approvals.create_request(users[ENGINEER], node=make_node(NodeKind.MODEL_VERSION, "walk-pending"),
                                       target_stage=staging, justification="j", submit=True)
    draft = approvals.create_request(users[ENGINEER], node=make_node(NodeKind.MODEL_VERSION, "walk-draft"),
                                     target_stage=staging, justification="j")
    gated_stage = Stage.objects.create(name="gated", order=30)
    StagePolicy.objects.create(stage=gated_stage, require_producing_run=True, max_training_hops=None,
                               forbid_failed_runs=False)
    gated = approvals.create_request(users[ENGINEER], node=make_node(NodeKind.MODEL_VERSION, "walk-gated"),
                                     target_stage=gated_stage, justification="j", submit=True)
    Stage.objects.create(name="bare", order=40)  # no policy yet: POST /api/stage-policies/ makes one
    hook = WebhookSubscription.objects.create(name="ops", url="http://127.0.0.1:9/hook", events=[])
    delivery = WebhookDelivery.objects.create(subscription=hook, event="request.submitted", payload={})
    other = make_node(NodeKind.MODEL_VERSION, "walk-other")
    # A manual same-as link an engineer made, for an approver to confirm; a personal API token of the admin's
    # own (not the one the admin's client signs in with, which a DELETE would revoke mid-walk).
    from governance.accounts import tokens
    from lineage import stitching

    copy = make_node(NodeKind.MODEL_VERSION, "walk-copy", source="other-platform")
    link, _ = stitching.link_same_as(mv, copy, reason="the same model", user=users[ENGINEER])
    token, _ = tokens.issue(users[ADMIN], "walk")
    nodes = {kind: Node.objects.filter(kind=kind).first() or make_node(kind, f"walk-{kind}") for kind in NodeKind.values}
    return {
        "mv": mv, "nodes": nodes, "other": other, "bundle": bundle.pk, "build": build.pk, "hold": hold.pk,
        "policy": policy.pk, "checkpoint": checkpoint.seq,
        "entry": AuditEntry.objects.order_by("-seq").values_list("seq", flat=True)[0],
        "connector": connector.name, "harvest": harvest.pk, "edge": Edge.objects.first().pk,
        "raw": RawRecord.objects.first().pk, "event": IngestedEvent.objects.first().pk,
        "approved": approved.pk, "pending": pending.pk, "draft": draft.pk, "gated": gated.pk,
        "decision": Decision.objects.first().pk, "assignment": StageAssignment.objects.first().pk,
        "hook": hook.pk, "delivery": delivery.pk, "token": token.pk, "link": link.pk,
    }


_ROUTE_KIND = {"jobs": "job", "runs": "run", "datasets": "dataset", "dataset-versions": "dataset_version",
               "artifacts": "artifact", "models": "model", "model-versions": "model_version",
               "deployments": "deployment", "projects": "project", "repositories": "repository"}


def concrete(path: str, w: dict, request_key: str = "pending") -> str:
    """The schema path with its placeholder filled by a real object of the world."""
    def node_pk(head):
        if head not in _ROUTE_KIND:
            return None
        return w["nodes"][_ROUTE_KIND[head]].pk if head != "model-versions" else w["mv"].pk

    return schema_paths.fill(path, w, node_pk=node_pk, stage="gated", request=lambda: w[request_key],
                             link=lambda: w["link"], job="walk", path_to=lambda: w["nodes"]["dataset"].pk)


def successful_writes(w: dict) -> dict[tuple[str, str], tuple[str, object, str]]:
    """(method, schema path) -> (role, JSON body, which promotion request the {id} is) of a write that succeeds."""
    mv, other = w["mv"].pk, w["other"].pk
    stage_body = {"name": "gated", "description": "d", "order": 31}
    policy_body = {"stage": "gated", "required_approvals": 1, "require_producing_run": False, "max_training_hops": None,
                   "required_metrics": {}, "forbid_failed_runs": False, "require_evidence_archived": False,
                   "expiry_hours": None, "source_actions": {}}
    return {
        ("POST", "/api/archive/bundles/"): (AUDITOR, {"node": mv, "depth": 2}, ""),
        ("POST", "/api/archive/holds/"): (AUDITOR, {"node": mv, "reason": "case 2"}, ""),
        ("POST", "/api/archive/holds/{id}/release/"): (AUDITOR, {"reason": "closed"}, ""),
        ("POST", "/api/archive/retention-policies/"): (ADMIN, {"node_kind": "artifact", "max_age_days": 9}, ""),
        ("PUT", "/api/archive/retention-policies/{id}/"): (ADMIN, {"node_kind": "dataset", "max_age_days": 40}, ""),
        ("PATCH", "/api/archive/retention-policies/{id}/"): (ADMIN, {"max_age_days": 50}, ""),
        ("DELETE", "/api/archive/retention-policies/{id}/"): (ADMIN, None, ""),
        ("POST", "/api/archive/retention-policies/apply/"): (ADMIN, {}, ""),
        ("POST", "/api/audit/checkpoints/"): (ADMIN, {"reason": "walk"}, ""),
        ("POST", "/api/connectors/"): (ADMIN, {"name": "kf2", "kind": "kubeflow", "enabled": False,
                                               "settings": {"kfp_host": "http://127.0.0.1:9"}}, ""),
        ("PUT", "/api/connectors/{name}/"): (ADMIN, {"name": "kf", "kind": "kubeflow", "enabled": False,
                                                     "settings": {"kfp_host": "http://127.0.0.1:8"}}, ""),
        ("PATCH", "/api/connectors/{name}/"): (ADMIN, {"settings": {"kfp_host": "http://127.0.0.1:7"}}, ""),
        ("DELETE", "/api/connectors/{name}/"): (ADMIN, None, ""),
        ("POST", "/api/v1/lineage"): (ENGINEER, {**EVENT, "job": {"namespace": "ns", "name": "walk-2"}}, ""),
        ("POST", "/api/v1/lineage/batch"): (ENGINEER, [{**EVENT, "job": {"namespace": "ns", "name": "walk-3"}}], ""),
        ("POST", "/api/links/same-as/"): (ENGINEER, {"src": mv, "dst": other, "reason": "the same model"}, ""),
        ("POST", "/api/links/same-as/{id}/confirm/"): (APPROVER, {"reason": "checked the digests"}, ""),
        # A user's own API tokens: any signed-in user manages theirs (the world's token is the admin's).
        ("POST", "/api/tokens/"): ("outsider", {"name": "walk-2"}, ""),
        ("PATCH", "/api/tokens/{id}/"): (ADMIN, {"name": "renamed"}, ""),
        ("DELETE", "/api/tokens/{id}/"): (ADMIN, None, ""),
        ("POST", "/api/stages/"): (ADMIN, {"name": "canary", "description": "d", "order": 15}, ""),
        ("PUT", "/api/stages/{name}/"): (ADMIN, stage_body, ""),
        ("PATCH", "/api/stages/{name}/"): (ADMIN, {"description": "changed"}, ""),
        ("POST", "/api/stage-policies/"): (ADMIN, {**policy_body, "stage": "bare"}, ""),
        ("PUT", "/api/stage-policies/{stage}/"): (ADMIN, policy_body, ""),
        ("PATCH", "/api/stage-policies/{stage}/"): (ADMIN, {"required_approvals": 2}, ""),
        ("DELETE", "/api/stage-policies/{stage}/"): (ADMIN, None, ""),
        ("POST", "/api/promotion-requests/"): (ENGINEER, {"node": other, "target_stage": "staging",
                                                         "justification": "walk"}, ""),
        ("POST", "/api/promotion-requests/{id}/submit/"): (ENGINEER, {}, "draft"),
        ("POST", "/api/promotion-requests/{id}/withdraw/"): (ENGINEER, {"reason": "no longer"}, "pending"),
        ("POST", "/api/promotion-requests/{id}/evaluate/"): (ENGINEER, {}, "pending"),
        ("POST", "/api/promotion-requests/{id}/approve/"): (APPROVER, {"comment": "ok"}, "pending"),
        ("POST", "/api/promotion-requests/{id}/reject/"): (APPROVER, {"comment": "no"}, "pending"),
        ("POST", "/api/promotion-requests/{id}/override/"): (ADMIN, {"gate": "producing_run", "reason": "known"},
                                                              "gated"),
        ("POST", "/api/promotion-requests/{id}/execute/"): (ADMIN, {}, "approved"),
        ("POST", "/api/webhooks/"): (ADMIN, {"name": "ops2", "url": "http://127.0.0.1:9/h", "events": [],
                                             "secret": "s" * 32}, ""),
        ("PUT", "/api/webhooks/{id}/"): (ADMIN, {"name": "ops", "url": "http://127.0.0.1:9/h2", "events": []}, ""),
        ("PATCH", "/api/webhooks/{id}/"): (ADMIN, {"url": "http://127.0.0.1:9/h3"}, ""),
        ("DELETE", "/api/webhooks/{id}/"): (ADMIN, None, ""),
    }
