"""The checklist every promotion request is judged by, computed from the lineage store.

Each gate answers pass/fail with a reason a person can act on. Walks follow the direction rule of
lineage/kinds.py (upstream = backwards along edges) and only edges that hold now.

Where each gate looks:
- producing_run: a `produced` edge from a run into the model version or into one of its origins: the
  nodes it is a `same_as` copy of (walking upstream, any distance) and the thing it is a `version_of`.
  A Viya model version registered from a Kubeflow model artefact is thereby produced by the Kubeflow run.
- training_data: a dataset or dataset_version at most `max_training_hops` hops upstream of the model
  version or an origin.
- metrics: for each required metric, the first value found in this order: the model version's own
  properties (`properties["metrics"][name]`, then `properties[name]`); then metrics nodes next to it:
  produced by a run that produced or consumed the model version or an origin (the training step's
  metrics, an evaluation step's metrics), or joined to it by an edge; then metrics nodes upstream within
  the training-data hop limit, nearest first. Within one tier the most recently seen node wins. A metrics
  node holds values in `properties["metrics"]` (the Kubeflow mapper's shape) or as top-level numbers.
- no_failed_run: no run in the provenance (upstream of the model version and its origins, up to
  PROVENANCE_DEPTH hops) whose `state`, `mlmd_state`, `status` or `eventType` property says it failed.
- evidence_archived: `governance.archive.services.has_bundle(node)`; when that service is missing the gate
  fails with "archive service unavailable" rather than passing unseen.

Evidence and its origin: every gate's detail lists the facts it relied on (`evidence`: edges and nodes with
their source and who created them: the harvest, the account that posted the OpenLineage event, or the
person who made a manual link) and the manual links it would not rely on (`not_relied_on`, with why). A
manual same_as link (lineage.models.ManualLink) counts as an origin only when an approver or admin
confirmed it, or when it was made by someone other than the request's requester before the request was
submitted (a link written straight to the store, whose maker is not recorded, only by the time rule). Otherwise a requester could supply
their own gate evidence (link someone else's trained artefact to their version and pass producing_run).
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

from django.core.exceptions import ObjectDoesNotExist

from lineage import graph
from lineage.kinds import EdgeKind, NodeKind, Source
from lineage.models import Edge, Node

PROVENANCE_DEPTH = 20
FAILED_STATES = {"failed", "fail", "error", "errored"}
STATE_KEYS = ("state", "mlmd_state", "status", "eventType", "event_type")
OPERATORS = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
GATE_NAMES = ("producing_run", "training_data", "metrics", "no_failed_run", "evidence_archived")
DATA_KINDS = (NodeKind.DATASET, NodeKind.DATASET_VERSION)


@dataclass
class Gate:
    gate: str
    passed: bool
    reason: str
    detail: dict = field(default_factory=dict)


def validate_metric_rules(rules) -> None:
    """Raise ValueError with a clear message unless `rules` is {name: {operator: number, ...}, ...}."""
    if not isinstance(rules, dict):
        raise ValueError('required_metrics must be an object like {"accuracy": {">=": 0.8}}')
    for name, checks in rules.items():
        if not isinstance(name, str) or not name:
            raise ValueError("metric names must be non-empty strings")
        if not isinstance(checks, dict) or not checks:
            raise ValueError(f'metric {name!r}: give at least one {{operator: threshold}}, e.g. {{">=": 0.8}}')
        for op, threshold in checks.items():
            if op not in OPERATORS:
                raise ValueError(f"metric {name!r}: unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
                raise ValueError(f"metric {name!r}: threshold for {op!r} must be a number, not {threshold!r}")


def _number(value):
    """A finite float, or None: booleans, NaN and infinities are not metric values a gate can judge."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _metric_in(properties: dict, name: str):
    nested = properties.get("metrics")
    if isinstance(nested, dict) and _number(nested.get(name)) is not None:
        return _number(nested.get(name))
    return _number(properties.get(name))


def _open_edges(**filters):
    return Edge.objects.filter(valid_to__isnull=True, **filters)


def origins(node: Node) -> set[int]:
    """The model version plus what it is a copy of (same_as, upstream) and what it versions."""
    found = set(graph.reachable([node.pk], direction="upstream", depth=graph.MAX_DEPTH,
                                edge_kinds=[EdgeKind.SAME_AS]))
    found.add(node.pk)
    versioned = _open_edges(kind=EdgeKind.VERSION_OF, src_id__in=found).values_list("dst_id", flat=True)
    return found | set(versioned)


def run_failed(properties: dict) -> str | None:
    for key in STATE_KEYS:
        value = properties.get(key)
        if isinstance(value, str) and value.strip().lower() in FAILED_STATES:
            return f"{key}={value}"
    return None


def manual_link_verdict(edge: Edge, requester=None, submitted_at=None) -> dict:
    """Whether a gate may rely on a manual same_as link for this request, and why (see the module doc)."""
    try:
        link = edge.manual_link
    except ObjectDoesNotExist:
        link = None
    out = {"edge": edge.pk, "kind": edge.kind, "src": edge.src_id, "dst": edge.dst_id, "source": edge.source,
           "origin": "manual link", "created_by": link.created_by_username if link else None,
           "created_at": link.created_at.isoformat() if link else None,
           "confirmed_by": (link.confirmed_by_username or None) if link else None}
    if link is not None and link.confirmed_at is not None:
        return {**out, "relied_on": True, "why": f"confirmed by {link.confirmed_by_username}"}
    made_at = link.created_at if link is not None else edge.recorded_at
    by_requester = link is not None and requester is not None and (
        link.created_by_id == requester.pk if link.created_by_id is not None
        else link.created_by_username == requester.username)
    if by_requester:
        why = "made by the requester; an approver or admin must confirm it"
    elif submitted_at is not None and made_at > submitted_at:
        why = "made after the request was submitted; an approver or admin must confirm it"
    elif link is None:
        # Written straight to the store (no API call records a maker): only fixtures and data from before
        # makers were recorded; the API always records one.
        return {**out, "relied_on": True, "why": "made before the request; its maker is not recorded"}
    else:
        return {**out, "relied_on": True, "why": f"made by {link.created_by_username} before the request"}
    return {**out, "relied_on": False, "why": why}


class Evaluator:
    """Computes the gates of one policy snapshot for one model version, for one request's requester."""

    def __init__(self, node: Node, policy: dict, *, requester=None, submitted_at=None):
        self.node = node
        self.policy = policy
        self.requester = requester
        self.submitted_at = submitted_at
        self.origin_facts: list[dict] = []
        self.not_relied_on: list[dict] = []
        self._posted_by: dict[int, str | None] = {}
        self.origin_ids = self._origins()

    def _origins(self) -> set[int]:
        """As `origins`, but walking same_as edges one hop at a time so manual links can be judged."""
        found, frontier = {self.node.pk}, {self.node.pk}
        for _ in range(graph.MAX_DEPTH):
            if not frontier:
                break
            step = set()
            edges = _open_edges(kind=EdgeKind.SAME_AS, dst_id__in=frontier).select_related("manual_link").order_by("pk")
            for edge in edges:
                if edge.source == Source.MANUAL:
                    verdict = manual_link_verdict(edge, self.requester, self.submitted_at)
                    if not verdict["relied_on"]:
                        self.not_relied_on.append(verdict)
                        continue
                    self.origin_facts.append(verdict)
                else:
                    self.origin_facts.append(self.edge_fact(edge))
                if edge.src_id not in found:
                    step.add(edge.src_id)
            found |= step
            frontier = step
        for edge in _open_edges(kind=EdgeKind.VERSION_OF, src_id__in=found).order_by("pk"):
            self.origin_facts.append(self.edge_fact(edge))
            found.add(edge.dst_id)
        return found

    def _creator(self, source: str, raw_id: int | None) -> str:
        """Who put a fact in the store: the account that posted its OpenLineage event, else the harvest."""
        if source == Source.OPENLINEAGE and raw_id is not None:
            if raw_id not in self._posted_by:
                from lineage.ingest.models import IngestedEvent

                self._posted_by[raw_id] = (IngestedEvent.objects.filter(raw_id=raw_id).order_by("pk")
                                           .values_list("posted_by_username", flat=True).first())
            if self._posted_by[raw_id]:
                return self._posted_by[raw_id]
            return "openlineage ingest"
        return f"{source} harvest"

    def edge_fact(self, edge: Edge) -> dict:
        created_by = self._creator(edge.source, edge.raw_id)
        return {"edge": edge.pk, "kind": edge.kind, "src": edge.src_id, "dst": edge.dst_id, "source": edge.source,
                "origin": "ingest" if edge.source == Source.OPENLINEAGE else "harvest", "created_by": created_by,
                "by_requester": bool(self.requester is not None and created_by == self.requester.username)}

    def node_fact(self, node: Node) -> dict:
        created_by = self._creator(node.source, node.raw_id)
        return {"node": node.pk, "kind": node.kind, "source": node.source,
                "origin": "ingest" if node.source == Source.OPENLINEAGE else "harvest", "created_by": created_by,
                "by_requester": bool(self.requester is not None and created_by == self.requester.username)}

    def _with_evidence(self, gate: Gate, facts: list[dict]) -> Gate:
        gate.detail = {**gate.detail, "evidence": self.origin_facts + facts, "not_relied_on": list(self.not_relied_on)}
        if self.not_relied_on and not gate.passed:
            first = self.not_relied_on[0]
            gate.reason += (f" Not relied on: manual same_as link {first['edge']} (node {first['src']} -> {first['dst']}), "
                            f"{first['why']}.")
        return gate

    def evaluate(self) -> list[Gate]:
        gates = []
        if self.policy.get("require_producing_run"):
            gates.append(self.producing_run())
        if self.policy.get("max_training_hops") is not None:
            gates.append(self.training_data(int(self.policy["max_training_hops"])))
        if self.policy.get("required_metrics"):
            gates.append(self.metrics(self.policy["required_metrics"]))
        if self.policy.get("forbid_failed_runs"):
            gates.append(self.no_failed_run())
        if self.policy.get("require_evidence_archived"):
            gates.append(self.evidence_archived())
        return gates

    def _producing_edges(self):
        return _open_edges(kind=EdgeKind.PRODUCED, dst_id__in=self.origin_ids, src__kind=NodeKind.RUN)

    def producing_run(self) -> Gate:
        edges = list(self._producing_edges().select_related("src", "dst").order_by("pk")[:20])
        if not edges:
            return self._with_evidence(Gate("producing_run", False,
                                            "No run produced this model version or anything it is a copy or version of.",
                                            {"origins": sorted(self.origin_ids)}), [])
        runs = [{"run": e.src_id, "name": e.src.display_name or e.src.name, "into": e.dst_id} for e in edges]
        first = runs[0]
        return self._with_evidence(Gate("producing_run", True, f"Produced by run {first['name']} (node {first['run']}).",
                                        {"runs": runs}), [self.edge_fact(e) for e in edges])

    def training_data(self, hops: int) -> Gate:
        near = graph.reachable(sorted(self.origin_ids), direction="upstream", depth=hops)
        data = list(Node.objects.filter(pk__in=list(near), kind__in=DATA_KINDS).order_by("pk")[:50])
        if not data:
            return self._with_evidence(Gate("training_data", False, f"No dataset or dataset version within {hops} hops upstream.",
                                            {"max_hops": hops}), [])
        data.sort(key=lambda n: (near[n.pk], n.pk))
        listed = [{"node": n.pk, "kind": n.kind, "name": n.display_name or n.name, "hops": near[n.pk]} for n in data]
        return self._with_evidence(Gate("training_data", True,
                                        f"{len(listed)} dataset(s) within {hops} hops upstream, nearest {listed[0]['name']} "
                                        f"at {listed[0]['hops']} hop(s).", {"max_hops": hops, "datasets": listed}),
                                   [self.node_fact(n) for n in data[:10]])

    def _metrics_candidates(self) -> list[Node]:
        hops = self.policy.get("max_training_hops") or 5
        runs = set(self._producing_edges().values_list("src_id", flat=True))
        runs |= set(_open_edges(kind=EdgeKind.CONSUMED, src_id__in=self.origin_ids, dst__kind=NodeKind.RUN)
                    .values_list("dst_id", flat=True))
        next_to = set(_open_edges(kind=EdgeKind.PRODUCED, src_id__in=runs, dst__kind=NodeKind.METRICS)
                      .values_list("dst_id", flat=True))
        next_to |= set(_open_edges(src_id__in=self.origin_ids, dst__kind=NodeKind.METRICS).values_list("dst_id", flat=True))
        next_to |= set(_open_edges(dst_id__in=self.origin_ids, src__kind=NodeKind.METRICS).values_list("src_id", flat=True))
        upstream = graph.reachable(sorted(self.origin_ids), direction="upstream", depth=hops)
        far = set(Node.objects.filter(pk__in=list(upstream), kind=NodeKind.METRICS).values_list("pk", flat=True))
        far -= next_to
        by_id = {n.pk: n for n in Node.objects.filter(pk__in=list(next_to | far))}
        tier1 = sorted((by_id[i] for i in next_to), key=lambda n: (-n.last_seen.timestamp(), n.pk))
        tier2 = sorted((by_id[i] for i in far), key=lambda n: (upstream.get(n.pk, 0), -n.last_seen.timestamp(), n.pk))
        return tier1 + tier2

    def metrics(self, rules: dict) -> Gate:
        candidates = None
        found, failures, missing = {}, [], []
        for name, checks in rules.items():
            value, where = _metric_in(self.node.properties or {}, name), {"node": self.node.pk, "from": "model version"}
            if value is None:
                if candidates is None:
                    candidates = self._metrics_candidates()
                for m in candidates:
                    value = _metric_in(m.properties or {}, name)
                    if value is not None:
                        where = {"node": m.pk, "from": m.display_name or m.name}
                        break
            if value is None:
                missing.append(name)
                continue
            found[name] = {"value": value, **where}
            for op, threshold in checks.items():
                if not OPERATORS[op](value, float(threshold)):
                    failures.append(f"{name} = {value:g} is not {op} {threshold:g}")
        detail = {"required": rules, "found": found, "missing": missing}
        used = {v["node"] for v in found.values()}
        facts = [self.node_fact(n) for n in Node.objects.filter(pk__in=used).order_by("pk")]
        if missing:
            return self._with_evidence(Gate("metrics", False, "Metric(s) not found: " + ", ".join(missing) + "."
                                            + ((" Also: " + "; ".join(failures) + ".") if failures else ""), detail), facts)
        if failures:
            return self._with_evidence(Gate("metrics", False, "; ".join(failures) + ".", detail), facts)
        shown = ", ".join(f"{k} = {v['value']:g}" for k, v in found.items())
        return self._with_evidence(Gate("metrics", True, f"All required metrics meet their thresholds ({shown}).", detail),
                                   facts)

    def no_failed_run(self) -> Gate:
        upstream = graph.reachable(sorted(self.origin_ids), direction="upstream", depth=PROVENANCE_DEPTH)
        runs = Node.objects.filter(pk__in=list(upstream), kind=NodeKind.RUN).only("pk", "name", "display_name", "properties")
        failed, checked = [], 0
        for run in runs.iterator():
            checked += 1
            why = run_failed(run.properties or {})
            if why:
                failed.append({"node": run.pk, "name": run.display_name or run.name, "state": why})
        if failed:
            failed.sort(key=lambda r: r["node"])
            names = ", ".join(f"{r['name']} ({r['state']})" for r in failed[:5])
            return self._with_evidence(Gate("no_failed_run", False, f"{len(failed)} failed run(s) in the provenance: {names}.",
                                            {"failed": failed[:50], "runs_checked": checked}), [])
        return self._with_evidence(Gate("no_failed_run", True, f"No failed run among {checked} run(s) in the provenance.",
                                        {"runs_checked": checked}), [])

    def evidence_archived(self) -> Gate:
        try:
            from governance.archive.services import has_bundle
        except ImportError:
            return Gate("evidence_archived", False, "archive service unavailable")
        if has_bundle(self.node):
            return Gate("evidence_archived", True, "An evidence bundle of this model version is archived.")
        return Gate("evidence_archived", False, "No evidence bundle of this model version is archived yet.")


def evaluate(node: Node, policy: dict, *, requester=None, submitted_at=None) -> list[Gate]:
    return Evaluator(node, policy, requester=requester, submitted_at=submitted_at).evaluate()
