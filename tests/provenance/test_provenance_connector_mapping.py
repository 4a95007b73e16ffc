"""What the connectors now harvest for the provenance card, checked on the public recordings: a KFP
pipeline version's spec digest and component images (from a compiled pipeline), and a Viya model's code
fields and metric properties landing on its version (from recorded Viya 2023.10 traffic)."""
from __future__ import annotations

import json

import pytest
import yaml

from connectors.kubeflow import mapping as kfp
from connectors.viya import mapping as viya
from lineage.kinds import NodeKind
from tests.conftest import shared_fixture


def test_pipeline_version_records_spec_digest_and_component_images():
    spec = yaml.safe_load(shared_fixture("kfp", "pipelines", "xgboost_sample_pipeline.yaml").read_text())
    version = {"pipeline_version_id": "v1", "pipeline_id": "p1", "name": "xgb", "created_at": "2026-01-01T00:00:00Z",
               "pipeline_spec": spec}
    [node, _edge] = kfp.version_facts(kfp.Keys("t"), version)
    executors = spec["deploymentSpec"]["executors"]
    assert node.properties["images"] == {name: ex["container"]["image"] for name, ex in executors.items()}
    assert len(node.properties["images"]) == 8
    assert node.properties["spec_digest"].startswith("sha256:")
    again = kfp.version_facts(kfp.Keys("t"), json.loads(json.dumps(version)))[0]
    assert again.properties["spec_digest"] == node.properties["spec_digest"]
    spec["deploymentSpec"]["executors"]["exec-train"] = {"container": {"image": "other:1"}}
    assert kfp.version_facts(kfp.Keys("t"), version)[0].properties["spec_digest"] != node.properties["spec_digest"]


def _recorded_model() -> dict:
    path = shared_fixture("viya", "viya_202310", "test_examples.test_scikit_regression_model.json")
    for interaction in json.loads(path.read_text()):
        body = interaction.get("response_body")
        if interaction["method"] == "GET" and isinstance(body, dict) and body.get("algorithm") and "modelVersionName" in body:
            return body
    pytest.fail("no model body in the recording")


def test_viya_version_carries_the_code_fields_of_its_model():
    body = _recorded_model()
    facts = viya.model_facts(viya.Keys("v"), body, snapshots=[], contents=[], snapshot_contents={})
    [version] = [f for f in facts if getattr(f, "key", None) and f.key.kind == NodeKind.MODEL_VERSION]
    props = version.properties
    assert (props["tool"], props["tool_version"], props["algorithm"]) == ("Python 3", "3.9.16", "Gradient boosting")
    assert props["score_code_type"] == "python" and props["train_code_type"] == "Python"
    assert props["metrics"] == {}  # this recording registered no fit statistics as properties


def test_viya_metric_properties_become_metrics():
    body = {**_recorded_model(), "properties": [
        {"name": "ASE", "value": "0.125", "type": "numeric"}, {"name": "accuracy", "value": "0.91", "type": "string"},
        {"name": "notes", "value": "retrained", "type": "string"}, {"name": "owner_id", "value": "42", "type": "string"},
        {"name": "_KS_", "value": 0.61}]}
    facts = viya.model_facts(viya.Keys("v"), body, snapshots=[], contents=[], snapshot_contents={})
    [version] = [f for f in facts if getattr(f, "key", None) and f.key.kind == NodeKind.MODEL_VERSION]
    assert version.properties["metrics"] == {"ASE": 0.125, "accuracy": 0.91}
