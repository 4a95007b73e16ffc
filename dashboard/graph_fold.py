"""Reshaping a drawn lineage subgraph: folding runs into their jobs and versions into what they version,
and hiding node kinds without losing the connections that ran through them.

Why on the returned subgraph and not in SQL: the walk (lineage.graph) already returns every node within
the asked depth and the edges between them; which of those a person wants to see is a presentation
choice, and doing it here keeps the one tested walk as the only traversal. A kind filter that simply
dropped the hidden nodes would also drop every edge through them (a dataset-only view showed 2 nodes
and 0 edges, since datasets connect only through runs); here a hidden node is contracted instead, so
dataset A -> run -> version -> dataset B becomes A -> B, drawn as a "via" edge naming what it passed.

Everything here works on plain values (ids, kinds, edge tuples) so the rules are tested without a
database; dashboard.lineage_view feeds it from the store.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from lineage.kinds import EdgeKind, NodeKind

# What folds into what, and along which edge (edges point downstream: job -instance_of-> run,
# version -version_of-> versioned thing).
FOLDS = {
    NodeKind.RUN: "runs",
    NodeKind.DATASET_VERSION: "versions",
}
FOLD_CHOICES = ("runs", "versions")


@dataclass
class Shaped:
    """The graph to draw: `nodes` are ids of store nodes (a fold's representative stands for its members),
    `members` says which original nodes each drawn node stands for, `edges` are (src, dst, kinds) with
    the original edge kinds they summarise ("via:<kind>,..." for contracted paths)."""

    nodes: list[int]
    edges: list[tuple[int, int, tuple[str, ...]]]
    members: dict[int, list[int]] = field(default_factory=dict)
    via: dict[tuple[int, int], tuple[str, ...]] = field(default_factory=dict)


def representatives(kinds: dict[int, str], edges, folds: set[str], visible: set[str] | None,
                    containment=()) -> dict[int, int]:
    """Node id -> the id drawn for it.

    A run folds into its job (a pipeline version into its pipeline first, so a KFP run named by both lands
    on one node); a run without a job of its own (a KFP task, an OpenLineage child run) into its parent
    run's representative. A dataset version folds into its dataset. Folding happens when asked (`folds`)
    and also, implicitly, when the member's kind is hidden but its container's kind is shown: a
    dataset-only view shows each version as its dataset rather than losing it. `containment` adds
    instance_of / version_of / parent_of edges (src, dst, kind) found outside the subgraph (a run's job
    beyond the asked depth); `kinds` must name their ends too.
    """
    job_of: dict[int, list[int]] = defaultdict(list)
    parent_run: dict[int, int] = {}
    dataset_of: dict[int, int] = {}
    job_version_of: dict[int, int] = {}
    for src, dst, kind in list(edges) + list(containment):
        if kind == EdgeKind.INSTANCE_OF and kinds.get(dst) == NodeKind.RUN and kinds.get(src) == NodeKind.JOB:
            job_of[dst].append(src)
        elif kind == EdgeKind.PARENT_OF and kinds.get(dst) == NodeKind.RUN and kinds.get(src) == NodeKind.RUN:
            parent_run.setdefault(dst, src)
        elif kind == EdgeKind.VERSION_OF and kinds.get(src) == NodeKind.DATASET_VERSION and kinds.get(dst) == NodeKind.DATASET:
            dataset_of[src] = dst
        elif kind == EdgeKind.VERSION_OF and kinds.get(src) == NodeKind.JOB and kinds.get(dst) == NodeKind.JOB:
            job_version_of[src] = dst
    def shown(kind):
        return visible is None or kind in visible

    def top_job(job):
        seen = set()
        while job in job_version_of and job not in seen:
            seen.add(job)
            job = job_version_of[job]
        return job

    fold_runs = "runs" in folds or (not shown(NodeKind.RUN) and shown(NodeKind.JOB))
    fold_versions = "versions" in folds or (not shown(NodeKind.DATASET_VERSION) and shown(NodeKind.DATASET))
    rep: dict[int, int] = {}

    def run_rep(run, depth=0):
        if run in rep:
            return rep[run]
        jobs = sorted({top_job(j) for j in job_of.get(run, [])})
        if jobs:
            return jobs[0]
        if run in parent_run and depth < 50:
            return run_rep(parent_run[run], depth + 1)
        return run

    for node, kind in kinds.items():
        if kind == NodeKind.RUN and fold_runs:
            rep[node] = run_rep(node)
        elif kind == NodeKind.JOB and fold_runs:
            rep[node] = top_job(node)
        elif kind == NodeKind.DATASET_VERSION and fold_versions:
            rep[node] = dataset_of.get(node, node)
        else:
            rep[node] = node
    return rep


def shape(kinds: dict[int, str], edges, *, folds=(), visible=None, containment=(), container_kinds=None,
          keep=()) -> Shaped:
    """Fold, then hide the kinds not in `visible` (None shows all), joining through hidden nodes.

    `kinds` is node id -> kind for the walked subgraph, `edges` (src, dst, kind) the edges between them;
    `containment` and `container_kinds` describe jobs and datasets beyond the subgraph that its runs and
    versions fold into (drawn only when something folds into them). Nodes in `keep` (the start node) are always shown, as their fold's
    representative. Contracted edges join two shown nodes when a directed path runs between them through
    hidden nodes only; they carry the hidden kinds they passed, so the drawing can say "via run".
    """
    folds = set(folds or ())
    visible = set(visible) if visible else None
    rep = representatives({**(container_kinds or {}), **kinds}, edges, folds, visible, containment)
    members: dict[int, list[int]] = defaultdict(list)
    for node in kinds:
        members[rep[node]].append(node)
    keep_reps = {rep.get(k, k) for k in keep}

    all_kinds = {**(container_kinds or {}), **kinds}

    def is_shown(node):
        return node in keep_reps or visible is None or all_kinds.get(node) in visible

    # Edges between representatives, without self loops (a run folded into its job loses instance_of).
    merged: dict[tuple[int, int], set[str]] = defaultdict(set)
    for src, dst, kind in edges:
        a, b = rep.get(src, src), rep.get(dst, dst)
        if a != b and a in members and b in members:
            merged[(a, b)].add(kind)
    out: dict[int, list[int]] = defaultdict(list)
    for a, b in merged:
        out[a].append(b)
    drawn = [n for n in members if is_shown(n)]
    result: dict[tuple[int, int], tuple[str, ...]] = {}
    via: dict[tuple[int, int], tuple[str, ...]] = {}
    for a in drawn:
        for b in out.get(a, []):
            if is_shown(b):
                result[(a, b)] = tuple(sorted(merged[(a, b)]))
        # Walk through hidden nodes only; every shown node reached is joined to `a`.
        stack = [(b, (all_kinds.get(b),)) for b in out.get(a, []) if not is_shown(b)]
        seen = {b for b, _ in stack}
        while stack:
            node, passed = stack.pop()
            for nxt in out.get(node, []):
                if is_shown(nxt):
                    if nxt != a and (a, nxt) not in result:
                        via[(a, nxt)] = tuple(sorted(set(via.get((a, nxt), ())) | set(passed)))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, passed + (all_kinds.get(nxt),)))
    for pair in list(via):
        if pair in result:
            del via[pair]
    edges_out = [(a, b, kinds_) for (a, b), kinds_ in result.items()]
    edges_out += [(a, b, tuple("via:" + k for k in passed)) for (a, b), passed in via.items()]
    ordered = [n for n in drawn if n in keep_reps] + [n for n in drawn if n not in keep_reps]
    return Shaped(nodes=ordered, edges=sorted(edges_out), members={n: sorted(members[n]) for n in drawn}, via=via)
