"""One real object behind every detail URL of the API (the authorization matrix's and the schema fuzzer's
`world`), registered as a pytest plugin by tests/conftest.py."""
import pytest

from common.roles import ADMIN, APPROVER, AUDITOR, ENGINEER
from governance.approvals import services as approvals
from governance.approvals.models import Stage
from tests.support.approvals import node as make_node, open_policy
from governance.archive import holds, services as archive
from governance.archive.models import RetentionPolicy
from devtools.archive_sample import make_model_lineage
from governance.audit import recorder
from governance.audit.models import AuditEntry
from lineage.kinds import NodeKind
from lineage.models import Edge, RawRecord
from tests.support import schema_paths

NODE_ROUTES = {
    "jobs": NodeKind.JOB, "runs": NodeKind.RUN, "datasets": NodeKind.DATASET,
    "dataset-versions": NodeKind.DATASET_VERSION, "artifacts": NodeKind.ARTIFACT, "models": NodeKind.MODEL,
    "model-versions": NodeKind.MODEL_VERSION, "deployments": NodeKind.DEPLOYMENT, "projects": NodeKind.PROJECT,
    "repositories": NodeKind.REPOSITORY,
}


def evidence_and_connector(users, prefix: str):
    """A model version with its lineage, a bundle of it, a finished build, a legal hold, a retention policy, a
    checkpoint, and a disabled connector with a harvest (an admin's harvest of it is a quick 409 instead of
    retries against a host that is not there): what every world of the API starts from."""
    from connectors.models import ConnectorConfig, Harvest
    from governance.archive.models import BundleBuild

    mv = make_model_lineage(prefix, upstream=4)
    bundle = archive.build_bundle(mv, users[AUDITOR], depth=2)
    build = BundleBuild.objects.create(node=mv, subject_kind=mv.kind, subject_source_id=mv.source_id, depth=2,
                                       requested_by=users[AUDITOR], state="done", bundle=bundle)
    hold = holds.place_hold(mv, users[AUDITOR], "case 1")
    policy = RetentionPolicy.objects.create(node_kind=NodeKind.DATASET, max_age_days=30)
    checkpoint = recorder.checkpoint(reason=prefix)
    connector = ConnectorConfig.objects.create(name="kf", kind="kubeflow", enabled=False,
                                               settings={"kfp_host": "http://127.0.0.1:9"})
    harvest = Harvest.objects.create(connector=connector, source_key=f"kubeflow:{prefix}", kind="kubeflow")
    return mv, bundle, build, hold, policy, checkpoint, connector, harvest


@pytest.fixture
def world(users, settings, tmp_path):
    """One real object behind every detail URL."""
    settings.DATA_DIR = tmp_path
    mv, bundle, build, hold, policy, checkpoint, connector, harvest = evidence_and_connector(users, "authz")
    nodes = {prefix: make_node(kind, f"authz-{prefix}") for prefix, kind in NODE_ROUTES.items()}
    nodes["model-versions"] = mv

    event = {"eventType": "COMPLETE", "eventTime": "2025-01-01T00:00:00Z", "producer": "https://example.test/p",
             "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
             "run": {"runId": "0190a5b6-0000-7000-8000-000000000001"}, "job": {"namespace": "ns", "name": "authz"},
             "inputs": [{"namespace": "ns", "name": "in"}], "outputs": []}
    from tests.conftest import client_for

    assert client_for(users[ENGINEER]).post("/api/v1/lineage", event, format="json").status_code < 300
    from lineage.ingest.models import IngestedEvent

    open_policy("staging")
    staging = Stage.objects.get(name="staging")
    done = approvals.create_request(users[ENGINEER], node=mv, target_stage=staging, justification="j", submit=True)
    approvals.decide(users[APPROVER], done.pk, "approve", "ok")
    pending_mv = make_node(NodeKind.MODEL_VERSION, "authz-pending")
    pending = approvals.create_request(users[ENGINEER], node=pending_mv, target_stage=staging, justification="j",
                                       submit=True)

    from governance.approvals.models import Decision, StageAssignment, WebhookDelivery, WebhookSubscription

    hook = WebhookSubscription.objects.create(name="ops", url="http://127.0.0.1:9/hook", events=[])
    delivery = WebhookDelivery.objects.create(subscription=hook, event="request.submitted", payload={})
    return {
        "nodes": nodes, "mv": mv, "bundle": bundle.pk, "build": build.pk, "hold": hold.pk, "policy": policy.pk,
        "checkpoint": checkpoint.seq, "entry": AuditEntry.objects.order_by("-seq").values_list("seq", flat=True)[0],
        "connector": connector.name, "harvest": harvest.pk, "edge": Edge.objects.first().pk,
        "raw": RawRecord.objects.first().pk, "event": IngestedEvent.objects.first().pk,
        "pending": pending.pk, "decision": Decision.objects.first().pk,
        "assignment": StageAssignment.objects.first().pk, "hook": hook.pk, "delivery": delivery.pk,
        "token": users[ADMIN].auth_token.pk,
    }


def concrete(path: str, w: dict) -> str:
    """The schema path with its placeholder filled by the matching real object (and any needed query)."""
    return schema_paths.fill(path, w, node_pk=lambda head: w["nodes"][head].pk if head in NODE_ROUTES else None,
                             stage="staging", request=lambda: w["pending"], link=lambda: w["edge"],
                             job="authz", path_to=lambda: w["nodes"]["datasets"].pk)
