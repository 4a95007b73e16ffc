"""The demo's own Viya model repository, served by the same fake the tests use, and `load_demo()`.

It holds the model the Kubeflow demo trained (its properties name the KFP run and the artifact URI, and its
pickle has the same bytes, hence the same digest), so after `make demo` the Viya champion's upstream lineage
runs into the Kubeflow training run and its data. Everything else is made up but Viya-shaped.
"""
from __future__ import annotations

import hashlib

from devtools.viya.fake_state import ViyaState

try:  # the Kubeflow demo's constants, when that connector is present
    from devtools.kubeflow.demo import DEMO_KFP_RUN_ID, DEMO_MODEL_DIGEST, DEMO_MODEL_URI
except ImportError:  # pragma: no cover - agreed fallbacks
    DEMO_KFP_RUN_ID = "kfp-demo-run-0001"
    DEMO_MODEL_URI = "minio://mlpipeline/v2/artifacts/churn-training/kfp-demo-run-0001/train/model"
    DEMO_MODEL_DIGEST = "sha256:" + hashlib.sha256(b"lineage-ledger demo churn-classifier weights v1").hexdigest()

DEMO_INSTANCE = "demo-viya"
DEMO_WEIGHTS = b"lineage-ledger demo churn-classifier weights v1"
T0 = "2026-11-02T09:00:00.000Z"


def _at(day: int, hour: int = 9) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:00:00.000Z"


def build_state() -> ViyaState:
    s = ViyaState()
    repo = s.add_repository("Public", when=_at(1))
    repo["defaultRepository"] = True
    s.add_repository("Risk", when=_at(1))
    churn = s.add_project(repo, "Customer Churn", when=_at(3), targetVariable="churned",
                          description="Monthly churn scoring for the retention campaign")
    props = [{"name": "kfp_run_id", "value": DEMO_KFP_RUN_ID, "type": "string"},
             {"name": "artifact_uri", "value": DEMO_MODEL_URI, "type": "string"},
             {"name": "trained_by", "value": "kubeflow", "type": "string"},
             # Fit statistics registered with the model: the Viya side's metrics on the provenance card.
             {"name": "accuracy", "value": "0.92", "type": "numeric"},
             {"name": "KS", "value": "0.61", "type": "numeric"}]
    xgb = s.add_model(churn, "churn-classifier", versions=2, when=_at(4), algorithm="Gradient boosting",
                      function="classification", tool="Python 3", toolVersion="3.11", modeler="alice",
                      trainTable="s3://datalake/raw/customers/2026-11-01.csv", scoreCodeType="python",
                      description=f"XGBoost churn classifier trained by Kubeflow run {DEMO_KFP_RUN_ID}",
                      properties=props, contents=(("model.pkl", "python pickle"), ("score.py", "score"),
                                                  ("inputVar.json", "variables")))
    logit = s.add_model(churn, "churn-logistic", when=_at(5), algorithm="Logistic regression",
                        function="classification", tool="SAS", modeler="bob",
                        description="Baseline logistic regression built in SAS Model Studio")
    for content in s.contents_of(xgb["id"]):
        if content["name"] == "model.pkl":
            s.file_bytes[content["fileUri"]] = DEMO_WEIGHTS
    s.put("model", (xgb["id"],), {**xgb, "role": "champion"})
    s.put("model", (logit["id"],), {**logit, "role": "challenger"})
    project = s.get("project", churn["id"])
    s.put("project", (churn["id"],), {**project, "championModelName": xgb["name"], "challengerModels": [logit["id"]],
                                      "modifiedTimeStamp": _at(6)})
    s.history[churn["id"]] = [
        {"id": "h1", "action": "setChampion", "modelId": xgb["id"], "modelName": xgb["name"], "modelVersionName": "1.0",
         "creationTimeStamp": _at(5, 14), "createdBy": "carol"},
        {"id": "h2", "action": "setChampion", "modelId": xgb["id"], "modelName": xgb["name"], "modelVersionName": "2.0",
         "creationTimeStamp": _at(6), "createdBy": "carol"},
    ]
    risk = next(r for r in s.items("repository").values() if r["name"] == "Risk")
    credit = s.add_project(risk, "Credit Risk",
                           when=_at(2), function="prediction", targetVariable="default_probability")
    s.add_model(credit, "pd-scorecard", versions=3, when=_at(2, 11), algorithm="Scorecard", tool="SAS",
                modeler="dave", function="prediction", contents=(("score.sas", "score"), ("train.sas", "train")))
    # A portfolio of scorecards, enough versions that the registry page is worth filtering.
    for i, segment in enumerate(("retail", "sme", "corporate", "mortgage", "cards", "auto", "student", "leasing")):
        s.add_model(credit, f"pd-{segment}", versions=3 + i % 3, when=_at(2 + i % 5, 12), algorithm="Logistic regression",
                    tool="SAS", toolVersion="V.04.00", modeler=("dave", "bob", "alice")[i % 3], function="prediction",
                    trainTable=f"RISK.PD_{segment.upper()}_TRAIN",
                    properties=[{"name": "KS", "value": str(round(0.4 + 0.02 * i, 2)), "type": "numeric"},
                                {"name": "gini", "value": str(round(0.5 + 0.03 * i, 2)), "type": "numeric"}],
                    contents=(("score.sas", "score"), ("train.sas", "train")))
    s.add_destination("maslocal", when=_at(1))
    s.add_destination("casfin", "cas", when=_at(1))
    s.add_publish(s.get("model", xgb["id"]), "maslocal", state="completed", when=_at(7),
                  log=f"{_at(7)} Published churn-classifier 2.0 to maslocal (module churnclassifier)")
    s.add_publish(s.get("model", logit["id"]), "casfin", state="failed", when=_at(7, 10),
                  log=f"{_at(7, 10)} ERROR: CAS session could not load the model table")
    s.workflows = {
        "processes": [{"id": "wf-1", "name": "Churn model approval", "state": "running",
                       "creationTimeStamp": _at(6), "modifiedTimeStamp": _at(6)}],
        "associations": [{"processId": "wf-1", "processName": "Churn model approval",
                          "solutionObjectUri": f"/modelRepository/projects/{churn['id']}", "solutionObjectType": "MM.Project"}],
        "tasks": [{"id": "task-1", "processId": "wf-1", "name": "Validate champion", "state": "completed", "actualOwner": "carol"},
                  {"id": "task-2", "processId": "wf-1", "name": "Approve deployment", "state": "started", "actualOwner": "erin"}],
    }
    return s


def load_demo(*, progress: bool = False) -> dict:
    """Start the fake Viya with the demo repository, harvest it (with digests), stop. Called by `make demo`."""
    from connectors.base import run_harvest
    from connectors.retry import RetryPolicy
    from connectors.viya import plugin
    from devtools.viya.fake_server import FakeViya
    from common.audit import context

    fake = FakeViya(build_state())
    with fake, context.acting_as(context.AuditContext(username="demo", service="harvester:viya")):
        settings = {"url": fake.url, "username": "viya-user", "download_digests": True, "instance": DEMO_INSTANCE}
        secrets = {"password": "viya-password"}
        plugin.validate(settings, secrets)
        harvest = run_harvest(plugin.build(settings, secrets, policy=RetryPolicy(attempts=3, base_delay=0.05)))
    return {"harvest": harvest.pk, "status": harvest.status, "counts": harvest.counts}
