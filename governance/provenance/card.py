"""The provenance card of one model version: its whole story in one answer, across platforms.

A version registered in Viya and trained in Kubeflow is two nodes joined by `same_as`; OpenLineage may
describe the same training a third time. The card starts from the version asked for, gathers every node
`same_as` makes it equal to (its identities), and reads around all of them at once:

- producing runs: runs with a `produced` edge into an identity, and the runs above them (`parent_of`),
  with the jobs they are instances of (a KFP pipeline and its pipeline version; an OpenLineage job);
- parameters, code version and metrics, from where each source records them (see the `_*_of` helpers);
- input data: datasets and artefacts upstream of the identities, to `depth` hops;
- deployments (`deployed_as` downstream) and, from governance, approvals, stage history, gate results and
  the evidence bundles the caller may see (and how many they may not).

Every lineage read goes through lineage.graph with the same `as_of` (the graph as it held then, node
properties as they were then); governance records are cut at `as_of` by their own timestamps.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

from lineage import graph
from lineage.kinds import EdgeKind, NodeKind
from lineage.models import Node, NodeRevision

from governance.provenance import links as source_ui

DEFAULT_DEPTH = 10
MAX_INPUT_NODES = 5000
IDENTITY_HOPS = 4
RUN_HOPS = 6  # version <- task run <- pipeline run <- job, with room for nested DAGs
DATA_KINDS = (NodeKind.DATASET, NodeKind.DATASET_VERSION, NodeKind.ARTIFACT)
PARAMETER_FACETS = ("parameters", "hyperparameters", "spark_properties", "airflow", "mlflow_params")
METRIC_FACETS = ("ml_model", "metrics", "model_metrics", "mlflow_metrics")
# Viya model fields that say which code made the model and how it scores.
VIYA_CODE_FIELDS = (("tool", "tool"), ("tool_version", "tool version"), ("algorithm", "algorithm"),
                    ("function", "function"), ("model_type", "model type"), ("score_code_type", "score code type"),
                    ("train_code_type", "train code type"), ("train_table", "training table"),
                    ("target_variable", "target variable"))


class NotAModelVersion(LookupError):
    """The id names no node, or a node that is not a model version."""


def is_model_version(node: Node) -> bool:
    """Model versions are `model_version` nodes, and OpenLineage outputs whose datasetType facet says MODEL
    (OpenLineage has no model kind: a trainer writes its model as a dataset)."""
    if node.kind == NodeKind.MODEL_VERSION:
        return True
    if node.kind != NodeKind.DATASET_VERSION:
        return False
    facet = ((node.properties or {}).get("facets") or {}).get("datasetType") or {}
    return isinstance(facet, dict) and str(facet.get("datasetType", "")).upper() == "MODEL"


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return str(value)


class _Properties:
    """Node properties as they were at `as_of` (the latest revision then), or as they are now."""

    def __init__(self, nodes, as_of):
        self.as_of = as_of
        self.at: dict[int, dict] = {}
        if as_of is not None:
            ids = [n.pk for n in nodes]
            for start in range(0, len(ids), 2000):
                revisions = (NodeRevision.objects.filter(node_id__in=ids[start:start + 2000], valid_from__lte=as_of)
                             .order_by("node_id", "valid_from", "id").values_list("node_id", "properties"))
                for node_id, props in revisions:
                    self.at[node_id] = props or {}

    def of(self, node: Node) -> dict:
        if self.as_of is None:
            return node.properties or {}
        # No revision by then: the node did not exist yet (its first revision is written with it).
        return self.at.get(node.pk, {})


def _facets(props: dict) -> dict:
    facets = props.get("facets")
    return facets if isinstance(facets, dict) else {}


def _plain(facet: dict) -> dict:
    """A facet without its OpenLineage bookkeeping keys."""
    return {k: v for k, v in facet.items() if not k.startswith("_")}


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def node_ref(node: Node) -> dict:
    return {"id": node.pk, "kind": node.kind, "source": node.source, "source_id": node.source_id,
            "namespace": node.namespace, "name": node.name, "display_name": node.display_name or node.name}


# -------------------------------------------------------------------------------------------- per source
def parameters_of(run: Node, props: dict) -> list[dict]:
    """Parameters a run was given, by where its source records them: KFP runtime parameters (the API's
    runtime_config), ML Metadata execution inputs (`inputs.parameterValues`, `mlmd_inputs` on a run's root
    DAG), OpenLineage run and job facets that carry them."""
    found: list[dict] = []

    def add(values, origin):
        if isinstance(values, dict):
            for name, value in sorted(values.items()):
                found.append({"name": str(name), "value": value, "origin": origin})

    add(props.get("parameters"), "KFP runtime parameters")
    for key in ("inputs", "mlmd_inputs"):
        inputs = props.get(key)
        if isinstance(inputs, dict):
            add(inputs.get("parameterValues") or inputs.get("parameters"), "ML Metadata execution inputs")
    for name, facet in sorted(_facets(props).items()):
        if name in PARAMETER_FACETS and isinstance(facet, dict):
            plain = _plain(facet)
            add(plain.get("properties") if isinstance(plain.get("properties"), dict) else plain,
                f"OpenLineage run facet {name}")
    seen, unique = set(), []
    for p in found:
        # The same value recorded twice (KFP's API and ML Metadata, which stores numbers as doubles) shows once.
        value = float(p["value"]) if _number(p["value"]) else repr(p["value"])
        key = (p["name"], value)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def code_version_of(node: Node, props: dict) -> list[dict]:
    """What the source records about the code that made or scores the model, as (label, value) rows."""
    rows: list[dict] = []

    def add(label, value):
        if value not in (None, "", [], {}):
            rows.append({"label": label, "value": value, "node": node.pk, "node_name": node.display_name or node.name})

    kfp_kind = props.get("kfp_kind")
    if kfp_kind == "pipeline_version":
        add("pipeline version", node.display_name or node.name)
        add("pipeline version id", props.get("pipeline_version_id"))
        add("pipeline spec digest", props.get("spec_digest"))
        add("code source", props.get("code_source_url"))
        add("KFP SDK", props.get("sdk_version"))
        for executor, image in sorted((props.get("images") or {}).items()):
            add(f"image {executor}", image)
    elif kfp_kind == "task":
        add(f"image of {props.get('task_name') or node.name}", props.get("image"))
    elif kfp_kind == "pipeline":
        add("pipeline", node.display_name or node.name)
    facets = _facets(props)
    location = facets.get("sourceCodeLocation")
    if isinstance(location, dict):
        for key in ("type", "url", "repoUrl", "path", "version", "tag", "branch"):
            add(f"source code {key}", location.get(key))
    source = facets.get("sourceCode")
    if isinstance(source, dict):
        add("source language", source.get("language"))
    engine = facets.get("processing_engine")
    if isinstance(engine, dict):
        add("processing engine", " ".join(str(engine.get(k)) for k in ("name", "version") if engine.get(k)))
    if props.get("viya_kind") in ("model", "model_version"):
        for field, label in VIYA_CODE_FIELDS:
            add(label, props.get(field))
    return rows


def metrics_of(node: Node, props: dict) -> list[dict]:
    """Metrics a node carries: a KFP Metrics artefact's values, a ClassificationMetrics confusion matrix,
    Viya model properties that are metrics, OpenLineage model facets' numbers."""
    rows: list[tuple] = []
    metrics = props.get("metrics")
    if isinstance(metrics, dict):
        rows += sorted(metrics.items())
    for key in ("confusionMatrix", "confidenceMetrics"):
        if isinstance(props.get(key), (dict, list)):
            rows.append((key, props[key]))
    for name, facet in sorted(_facets(props).items()):
        if name in METRIC_FACETS and isinstance(facet, dict):
            rows += [(k, v) for k, v in sorted(_plain(facet).items()) if _number(v)]
    label = node.display_name or node.name
    return [{"name": k, "value": v, "node": node.pk, "node_name": label} for k, v in rows]


def owner_of(props: dict) -> str | None:
    for key in ("modeler", "created_by", "owner"):
        if props.get(key):
            return str(props[key])
    ownership = _facets(props).get("ownership")
    if isinstance(ownership, dict):
        names = [o.get("name") for o in ownership.get("owners") or [] if isinstance(o, dict) and o.get("name")]
        if names:
            return ", ".join(names)
    return None


def _run_times(props: dict) -> tuple:
    start = props.get("started_at") or props.get("created_at") or props.get("scheduled_at")
    end = props.get("ended_at") or props.get("finished_at") or props.get("updated_at")
    return start, end


def _status(props: dict):
    return props.get("state") or props.get("mlmd_state") or props.get("status")


# -------------------------------------------------------------------------------------------------- card
def identities_of(node: Node, as_of=None) -> list[Node]:
    """`node` first, then every model version or artefact `same_as` makes it equal to (either direction)."""
    same = graph.lineage([node.pk], direction="both", depth=IDENTITY_HOPS, as_of=as_of,
                         edge_kinds=[EdgeKind.SAME_AS], max_nodes=100, properties=True, edges=False)
    others = [n for n in same.nodes if n.pk != node.pk and (is_model_version(n) or n.kind == NodeKind.ARTIFACT)]
    return [node] + others


def evidence_subjects(node: Node, identities: list[Node] | None = None, producers: list[Node] | None = None) -> list[Node]:
    """The nodes whose evidence bundles are this version's evidence: its identities and, for a model that
    bundles are not built for (an OpenLineage dataset version), the runs that produced it."""
    from governance.archive.models import BUNDLE_SUBJECT_KINDS

    identities = identities if identities is not None else identities_of(node)
    if node.kind in BUNDLE_SUBJECT_KINDS:
        return identities
    if producers is None:
        from lineage.models import Edge

        producers = list(Node.objects.filter(kind=NodeKind.RUN, pk__in=Edge.objects.filter(
            dst__in=identities, kind=EdgeKind.PRODUCED, valid_to__isnull=True).values("src_id")))
    return identities + producers


class Card:
    """Assembles the card; each section reads what the earlier ones found."""

    def __init__(self, node: Node, user, *, depth: int = DEFAULT_DEPTH, as_of: dt.datetime | None = None):
        self.node, self.user, self.depth, self.as_of = node, user, depth, as_of
        self.link_cache: dict = {}

    def build(self) -> dict:
        if self.as_of is not None and self.node.first_seen > self.as_of:
            raise NotAModelVersion(f"model version {self.node.pk} did not exist yet at {_iso(self.as_of)}")
        identities = identities_of(self.node, self.as_of)
        ids = [n.pk for n in identities]
        # Runs and their jobs are found on their own walk (only the edges that lead to them), so `depth`
        # limits how far input data is followed, never whether the producing pipeline shows.
        # Node properties are read (the nodes' own, the current ones) only without `as_of`; with it they come
        # from the revisions then (_Properties). Only the runs walk's edges are read.
        now = self.as_of is None
        runs_walk = graph.lineage(ids, direction="upstream", depth=RUN_HOPS, as_of=self.as_of, max_nodes=500,
                                  edge_kinds=[EdgeKind.PRODUCED, EdgeKind.PARENT_OF, EdgeKind.INSTANCE_OF],
                                  properties=now)
        # The input-data walk (up to MAX_INPUT_NODES nodes, mostly runs) shows only its data nodes: their
        # properties alone are read, and no edges.
        up = graph.lineage(ids, direction="upstream", depth=self.depth, as_of=self.as_of, max_nodes=MAX_INPUT_NODES,
                           properties=now and list(DATA_KINDS), edges=False)
        down = graph.lineage(ids, direction="downstream", depth=1, as_of=self.as_of,
                             edge_kinds=[EdgeKind.VERSION_OF, EdgeKind.DEPLOYED_AS], max_nodes=500, properties=now,
                             edges=False)
        by_id = {n.pk: n for n in runs_walk.nodes}
        by_id.update({n.pk: n for n in down.nodes})
        by_id.update({n.pk: n for n in identities})
        id_set = set(ids)

        producers = sorted({e.src_id for e in runs_walk.edges if e.kind == EdgeKind.PRODUCED and e.dst_id in id_set
                            and by_id.get(e.src_id) is not None and by_id[e.src_id].kind == NodeKind.RUN})
        parent_of = {e.dst_id: e.src_id for e in runs_walk.edges if e.kind == EdgeKind.PARENT_OF}
        runs_order, roles = [], {}
        for run_id in producers:
            current, hops = run_id, 0
            while current is not None and current not in roles and hops < 10:
                roles[current] = "producer" if current == run_id else "parent"
                runs_order.append(current)
                current, hops = parent_of.get(current), hops + 1
        jobs_of = defaultdict(list)
        for e in runs_walk.edges:
            if e.kind == EdgeKind.INSTANCE_OF and e.dst_id in roles and by_id.get(e.src_id) is not None:
                jobs_of[e.dst_id].append(by_id[e.src_id])
        # Metrics: what the producing runs (and every task of their pipeline runs) produced as metrics.
        metric_nodes = []
        if runs_order:
            around = graph.lineage(runs_order, direction="downstream", depth=3, as_of=self.as_of,
                                   edge_kinds=[EdgeKind.PARENT_OF, EdgeKind.PRODUCED], node_kinds=[NodeKind.METRICS],
                                   max_nodes=200, properties=now, edges=False)
            metric_nodes = [n for n in around.nodes if n.kind == NodeKind.METRICS]
        models = [n for n in down.nodes if n.kind == NodeKind.MODEL]
        deployments = [n for n in down.nodes if n.kind == NodeKind.DEPLOYMENT]
        data = [n for n in up.nodes if n.kind in DATA_KINDS and n.pk not in id_set]
        job_nodes = [j for js in jobs_of.values() for j in js]
        props = _Properties(list(by_id.values()) + data + metric_nodes + job_nodes, self.as_of)

        card = {
            "id": self.node.pk,
            "as_of": _iso(self.as_of),
            "depth": self.depth,
            "model_version": self._version(self.node, props),
            "identities": [self._version(n, props) for n in identities],
            "models": [{**node_ref(m), "links": source_ui.source_links(m, props.of(m), self.link_cache)} for m in models],
            "runs": [self._run(by_id[r], roles[r], parent_of.get(r), jobs_of.get(r, []), props) for r in runs_order],
            "input_data": [self._data(n, up.depth_of.get(n.pk), props) for n in data],
            "input_truncated": up.truncated,
            "deployments": [self._deployment(n, props) for n in deployments],
        }
        card["parameters"] = [{**p, "run": run["id"]} for run in card["runs"] for p in run["parameters"]]
        code = [row for run in card["runs"] for row in run["code_version"]]
        for n in identities + models:
            code += code_version_of(n, props.of(n))
        card["code_version"] = _unique(code, ("label", "value"))
        metrics = []
        for n in identities + metric_nodes:
            metrics += metrics_of(n, props.of(n))
        card["metrics"] = _unique(metrics, ("name", "node"))
        from governance.provenance import governance_view

        subjects = evidence_subjects(self.node, identities, [by_id[r] for r in producers])
        card.update(governance_view.for_card(self.node, subjects, self.user, self.as_of))
        card["chain"] = {
            "data": [d["id"] for d in card["input_data"] if d["depth"] is not None and d["depth"] <= 2][:20],
            "runs": [r["id"] for r in card["runs"]],
            "model_version": self.node.pk,
            "approvals": [a["id"] for a in card["approvals"]],
            "deployments": [d["id"] for d in card["deployments"]],
        }
        return card

    def _version(self, n: Node, props: _Properties) -> dict:
        p = props.of(n)
        version = p.get("version_name") or p.get("version")
        if not version and p.get("mlmd_artifact_id") is not None:
            version = f"artifact {p['mlmd_artifact_id']}"
        if not version and n.kind == NodeKind.DATASET_VERSION:
            version = p.get("run_id")
        return {**node_ref(n), "version": version or n.name.rsplit(" ", 1)[-1],
                "created": p.get("created") or p.get("created_at") or _iso(n.first_seen),
                "modified": p.get("modified") or p.get("updated_at") or _iso(n.last_seen),
                "owner": owner_of(p), "links": source_ui.source_links(n, p, self.link_cache)}

    def _run(self, run: Node, role: str, parent, jobs: list[Node], props: _Properties) -> dict:
        p = props.of(run)
        start, end = _run_times(p)
        pipeline = next((j for j in jobs if props.of(j).get("kfp_kind") != "pipeline_version"), None)
        version = next((j for j in jobs if props.of(j).get("kfp_kind") == "pipeline_version"), None)
        code = code_version_of(run, p)
        for j in jobs:
            code += code_version_of(j, props.of(j))
        started_by = p.get("created_by") or p.get("service_account") or None
        for j in jobs:
            started_by = started_by or owner_of(props.of(j))
        return {
            **node_ref(run), "role": role, "parent": parent,
            "run_id": p.get("run_id") or run.source_id,
            "job": node_ref(pipeline) if pipeline else None,
            "job_version": node_ref(version) if version else None,
            "started_at": start, "ended_at": end, "status": _status(p), "started_by": started_by,
            "parameters": parameters_of(run, p), "code_version": code,
            "links": source_ui.source_links(run, p, self.link_cache),
        }

    def _data(self, n: Node, depth, props: _Properties) -> dict:
        p = props.of(n)
        uri = p.get("uri") or (f"{n.namespace}/{n.name}" if n.namespace and "://" in n.namespace else n.name)
        version = p.get("version") or p.get("run_id") if n.kind == NodeKind.DATASET_VERSION else p.get("version")
        return {**node_ref(n), "depth": depth, "uri": uri, "version": version,
                "digest": p.get("digest") or None, "links": source_ui.source_links(n, p, self.link_cache)}

    def _deployment(self, n: Node, props: _Properties) -> dict:
        p = props.of(n)
        return {**node_ref(n), "state": p.get("state") or None, "destination": p.get("destination") or None,
                "since": _iso(n.first_seen), "links": source_ui.source_links(n, p, self.link_cache)}


def _unique(rows: list[dict], key: tuple) -> list[dict]:
    seen, out = set(), []
    for row in rows:
        k = tuple(repr(row.get(f)) for f in key)
        if k not in seen:
            seen.add(k)
            out.append(row)
    return out


def provenance_card(node_id: int, user, *, depth: int = DEFAULT_DEPTH, as_of: dt.datetime | None = None) -> dict:
    node = Node.objects.filter(pk=node_id).first()
    if node is None or not is_model_version(node):
        raise NotAModelVersion(f"there is no model version with id {node_id}")
    return Card(node, user, depth=depth, as_of=as_of).build()
