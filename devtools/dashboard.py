"""Lineage generators and a Dash callback client for the dashboard's tests and benchmark.

Data is written through lineage.store.apply, the store's only write path, so what the tests draw is
what a harvest would have written."""
from __future__ import annotations

import datetime as dt
import json

from lineage import store
from lineage.kinds import EdgeKind, NodeKind, Source
from lineage.store import EdgeFact, NodeFact, NodeKey, RawPayload


def _key(source, kind, source_id):
    return NodeKey(source=source, kind=kind, source_id=source_id)


def demo_model(name: str = "churn-model", version: str = "3", *, when: dt.datetime | None = None) -> dict:
    """A model version the way the demo has them: a dataset read by a Kubeflow training run that produced
    the version and its metrics, the model it versions, and a deployment. Returns node ids by role."""
    when = when or dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.timezone.utc)
    dataset = _key(Source.OPENLINEAGE, NodeKind.DATASET, f"s3://demo-bucket/{name}/train.csv")
    job = _key(Source.KUBEFLOW, NodeKind.JOB, f"pipeline:{name}-training")
    run = _key(Source.KUBEFLOW, NodeKind.RUN, f"run:{name}-{version}")
    metrics = _key(Source.KUBEFLOW, NodeKind.METRICS, f"artifact:{name}-{version}-metrics")
    mv = _key(Source.KUBEFLOW, NodeKind.MODEL_VERSION, f"artifact:{name}-{version}")
    model = _key(Source.KUBEFLOW, NodeKind.MODEL, f"model:{name}")
    deployment = _key(Source.VIYA, NodeKind.DEPLOYMENT, f"deployment:{name}-{version}")
    run_raw = RawPayload(Source.KUBEFLOW, "kfp.run", run.source_id,
                         {"run_id": run.source_id, "display_name": f"train {name} v{version}", "state": "SUCCEEDED"})
    facts = [
        NodeFact(dataset, name="train.csv", namespace=f"s3://demo-bucket/{name}", display_name=f"{name} training data",
                 properties={"rows": 120_000, "url": f"https://minio.example/browser/demo-bucket/{name}/train.csv"},
                 seen_at=when, raw=RawPayload(Source.OPENLINEAGE, "openlineage.RunEvent", dataset.source_id,
                                              {"eventType": "COMPLETE", "inputs": [{"name": "train.csv"}]})),
        NodeFact(job, name=f"{name}-training", seen_at=when),
        NodeFact(run, name=f"{name}-{version}", display_name=f"train {name} v{version}",
                 properties={"state": "SUCCEEDED", "url": f"https://kfp.example/#/runs/details/{name}-{version}"},
                 seen_at=when, raw=run_raw),
        NodeFact(metrics, name=f"{name}-{version}-metrics", properties={"metrics": {"accuracy": 0.91, "auc": 0.88}},
                 seen_at=when),
        NodeFact(mv, name=f"{name}:{version}", display_name=f"{name} v{version}",
                 properties={"version": version, "metrics": {"accuracy": 0.91}}, seen_at=when),
        NodeFact(model, name=name, seen_at=when),
        NodeFact(deployment, name=f"{name}-{version}-endpoint", seen_at=when),
        EdgeFact(EdgeKind.INSTANCE_OF, job, run, Source.KUBEFLOW, valid_from=when),
        EdgeFact(EdgeKind.CONSUMED, dataset, run, Source.KUBEFLOW, valid_from=when),
        EdgeFact(EdgeKind.PRODUCED, run, mv, Source.KUBEFLOW, valid_from=when),
        EdgeFact(EdgeKind.PRODUCED, run, metrics, Source.KUBEFLOW, valid_from=when),
        EdgeFact(EdgeKind.VERSION_OF, mv, model, Source.KUBEFLOW, valid_from=when),
        EdgeFact(EdgeKind.DEPLOYED_AS, mv, deployment, Source.VIYA, valid_from=when),
    ]
    result = store.apply(facts)
    keys = {"dataset": dataset, "job": job, "run": run, "metrics": metrics, "model_version": mv, "model": model,
            "deployment": deployment}
    return {role: result.nodes[key].pk for role, key in keys.items()}


def layered_lineage(n_nodes: int, *, width: int = 10, prefix: str = "bench", when: dt.datetime | None = None) -> int:
    """About `n_nodes` nodes upstream of one model version, in layers alternating datasets and runs, each
    node feeding up to three of the next layer. Returns the model version's id."""
    when = when or dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    facts = []
    layers: list[list[NodeKey]] = []
    count = 0
    layer_no = 0
    while count < n_nodes - 1:
        kind = NodeKind.DATASET if layer_no % 2 == 0 else NodeKind.RUN
        source = (Source.OPENLINEAGE, Source.KUBEFLOW, Source.VIYA)[layer_no % 3]
        size = min(width, n_nodes - 1 - count)
        layer = [_key(source, kind, f"{prefix}:{layer_no}:{i}") for i in range(size)]
        for key in layer:
            facts.append(NodeFact(key, name=f"{kind}-{layer_no}-{key.source_id.rsplit(':', 1)[1]}", seen_at=when))
        if layers:
            previous = layers[-1]
            for i, key in enumerate(layer):
                for j in range(3):
                    src = previous[(i + j) % len(previous)]
                    edge_kind = EdgeKind.CONSUMED if key.kind == NodeKind.RUN else EdgeKind.PRODUCED
                    facts.append(EdgeFact(edge_kind, src, key, str(source.value), valid_from=when))
        layers.append(layer)
        count += size
        layer_no += 1
    mv = _key(Source.KUBEFLOW, NodeKind.MODEL_VERSION, f"{prefix}:model-version")
    facts.append(NodeFact(mv, name=f"{prefix}-model:1", seen_at=when))
    for src in layers[-1]:
        facts.append(EdgeFact(EdgeKind.PRODUCED if src.kind == NodeKind.RUN else EdgeKind.CONSUMED, src, mv,
                              Source.KUBEFLOW, valid_from=when))
    return store.apply(facts).nodes[mv].pk


class DashCaller:
    """Calls dashboard callbacks over HTTP exactly as the Dash renderer does: it reads the callback map
    from _dash-dependencies and POSTs to _dash-update-component with the CSRF header the renderer sends.

    `client` is a django.test.Client (use enforce_csrf_checks=True to exercise the real CSRF check)."""

    def __init__(self, client, prefix: str = "/dashboard/"):
        self.client = client
        self.prefix = prefix
        self._deps = None

    def dependencies(self) -> list[dict]:
        if self._deps is None:
            response = self.client.get(self.prefix + "_dash-dependencies")
            assert response.status_code == 200, response.status_code
            self._deps = response.json()
        return self._deps

    def find(self, output: str, values: dict | None = None) -> dict:
        """The callback whose output names `output` (e.g. "conn-result.children"); when several write it,
        the one whose inputs and state `values` fills best."""
        candidates = []
        for dep in self.dependencies():
            names = [part.split("@")[0] for part in dep["output"].strip(".").split("...")]
            if output in names:
                candidates.append(dep)
        if not candidates:
            raise KeyError(f"no callback outputs {output}")
        values = values or {}

        def score(dep):
            props = [f"{d['id']}.{d['property']}" for d in dep["inputs"] + dep["state"]]
            return (sum(p in values for p in props), -len(props))

        return max(candidates, key=score)

    def payload(self, output: str, values: dict, changed: str | None = None) -> dict:
        dep = self.find(output, values)
        outputs = [{"id": o.split(".")[0], "property": o.split(".")[1].split("@")[0]}
                   for o in dep["output"].strip(".").split("...")]
        inputs = [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in dep["inputs"]]
        state = [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in dep["state"]]
        return {
            "output": dep["output"],
            "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": inputs,
            "state": state,
            "changedPropIds": [changed or f"{dep['inputs'][0]['id']}.{dep['inputs'][0]['property']}"],
        }

    def call(self, output: str, values: dict, changed: str | None = None, csrf: bool = True, **extra):
        headers = dict(extra)
        if csrf:
            token = self.client.cookies.get("csrftoken")
            if token is None:
                self.client.get(self.prefix)
                token = self.client.cookies["csrftoken"]
            headers["HTTP_X_CSRFTOKEN"] = token.value
        return self.client.post(self.prefix + "_dash-update-component",
                                data=json.dumps(self.payload(output, values, changed)),
                                content_type="application/json", **headers)

    def call_json(self, output: str, values: dict, changed: str | None = None) -> dict:
        response = self.call(output, values, changed)
        assert response.status_code == 200, (response.status_code, response.content[:500])
        return response.json()["response"]


def find_component(tree, component_id):
    """The component with `component_id` in a Dash layout JSON tree (as returned by a callback), or None."""
    if isinstance(tree, dict):
        props = tree.get("props", {})
        if props.get("id") == component_id:
            return tree
        for value in list(props.values()) + [v for k, v in tree.items() if k != "props"]:
            found = find_component(value, component_id)
            if found is not None:
                return found
    elif isinstance(tree, list):
        for item in tree:
            found = find_component(item, component_id)
            if found is not None:
                return found
    return None
