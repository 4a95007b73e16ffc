"""The store reads behind Marquez's resources, each one indexed query per page (plus one per related set).

Marquez's objects are the OpenLineage nodes of the store: its jobs and datasets (kind, source, namespace,
name: index node_kind_src_ns_name, migration lineage 0004), their runs (instance_of edges: edge_src_from),
dataset versions (namespace, name, kind, source, first_seen: node_ns_name_kind_seen). A namespace is
any namespace a job or dataset has; a source is a dataset's dataSource facet name, or its namespace.

`as_of` everywhere: an object exists at t when first_seen <= t; an edge holds at t as lineage.graph says;
properties are the latest revision at t (graph.props_at).
"""
from __future__ import annotations

from django.db.models import CharField, Count, F, Max, Min, Q
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce

from lineage.kinds import NodeKind, Source
from lineage.marquez import shapes
from lineage.marquez.errors import NotFound
from lineage.marquez.graph import Dataflow, props_at, runs_with_props
from lineage.marquez.sql import rows
from lineage.models import Node

OL = Source.OPENLINEAGE.value
MARQUEZ_KINDS = (NodeKind.JOB.value, NodeKind.DATASET.value)


def ol(kind: str, as_of=None):
    qs = Node.objects.filter(source=OL, kind=kind)
    return qs.filter(first_seen__lte=as_of) if as_of is not None else qs


def page(qs, limit: int, offset: int) -> tuple[list, int]:
    return list(qs[offset:offset + limit]) if limit else [], qs.count()


# -- namespaces and sources ---------------------------------------------------------------------------
def namespaces(limit: int, offset: int, as_of=None) -> tuple[list[dict], int]:
    qs = Node.objects.filter(source=OL, kind__in=MARQUEZ_KINDS)
    if as_of is not None:
        qs = qs.filter(first_seen__lte=as_of)
    grouped = qs.values("namespace").annotate(created=Min("first_seen"), updated=Max("last_seen")).order_by("namespace")
    return list(grouped[offset:offset + limit]) if limit else [], qs.values("namespace").distinct().count()


def namespace(name: str, as_of=None) -> dict:
    qs = Node.objects.filter(source=OL, kind__in=MARQUEZ_KINDS, namespace=name)
    if as_of is not None:
        qs = qs.filter(first_seen__lte=as_of)
    found = qs.aggregate(created=Min("first_seen"), updated=Max("last_seen"), n=Count("id"))
    if not found["n"]:
        raise NotFound(f"Namespace '{name}' not found.")
    return {"namespace": name, "created": found["created"], "updated": found["updated"]}


def _sources_qs(as_of=None):
    return (ol(NodeKind.DATASET.value, as_of)
            .annotate(source_name=Coalesce(KT("properties__facets__dataSource__name"), F("namespace"),
                                       output_field=CharField()),
                      source_uri=KT("properties__facets__dataSource__uri")))


def sources(limit: int, offset: int, as_of=None) -> tuple[list[dict], int]:
    grouped = (_sources_qs(as_of).values("source_name")
               .annotate(created=Min("first_seen"), updated=Max("last_seen"), uri=Max("source_uri"))
               .order_by("source_name"))
    return list(grouped[offset:offset + limit]) if limit else [], _sources_qs(as_of).values("source_name").distinct().count()


def source(name: str, as_of=None) -> dict:
    named = Q(properties__facets__dataSource__name=name) | (
        Q(properties__facets__dataSource__name__isnull=True) & Q(namespace=name))
    qs = ol(NodeKind.DATASET.value, as_of).filter(named)
    found = qs.aggregate(created=Min("first_seen"), updated=Max("last_seen"), n=Count("id"),
                         uri=Max(KT("properties__facets__dataSource__uri")))
    if not found["n"]:
        raise NotFound(f"Source '{name}' not found.")
    return {"source_name": name, **found}


# -- datasets ----------------------------------------------------------------------------------------
def datasets(ns: str, limit: int, offset: int, as_of=None) -> tuple[list[Node], int]:
    return page(ol(NodeKind.DATASET.value, as_of).filter(namespace=ns).order_by("name", "id"), limit, offset)


def dataset(ns: str, name: str, as_of=None) -> Node:
    node = ol(NodeKind.DATASET.value, as_of).filter(namespace=ns, name=name).first()
    if node is None:
        raise NotFound(f"Dataset '{name}' not found in namespace '{ns}'.")
    return node


def versions_qs(ds: Node, as_of=None):
    return ol(NodeKind.DATASET_VERSION.value, as_of).filter(namespace=ds.namespace, name=ds.name) \
        .order_by("-first_seen", "-id")


def current_versions(dataset_nodes, as_of=None) -> dict[int, Node]:
    """Dataset id -> its newest version (one indexed LIMIT 1 per dataset of the page)."""
    return {d.pk: v for d in dataset_nodes if (v := versions_qs(d, as_of).first()) is not None}


def dataset_version(ds: Node, version: str, as_of=None) -> Node:
    """The version named by its producing run's id (shapes: one indexed lookup)."""
    qs = versions_qs(ds, as_of)
    for run_id in dict.fromkeys([version, shapes.as_uuid(version) or version]):
        node = qs.filter(source_id=f"{ds.namespace}:{ds.name}@{run_id}").first()
        if node is not None:
            return node
    raise NotFound(f"Version '{version}' not found for dataset '{ds.name}'.")


_PRODUCER_SQL = ("SELECT e.dst_id, e.src_id FROM lineage_edge e JOIN lineage_node r ON r.id = e.src_id "
                 "WHERE e.kind = 'produced' AND r.kind = 'run' AND {live:e} AND e.dst_id IN ({ids})")


def producing_runs(version_ids, as_of=None) -> dict[int, Node]:
    pairs = rows(_PRODUCER_SQL, version_ids, as_of)
    runs = Node.objects.in_bulk(sorted({r for _v, r in pairs}))
    return {v: runs[r] for v, r in pairs}


# -- jobs and runs -----------------------------------------------------------------------------------
def jobs(ns: str | None, limit: int, offset: int, as_of=None) -> tuple[list[Node], int]:
    qs = ol(NodeKind.JOB.value, as_of)
    if ns is not None:
        qs = qs.filter(namespace=ns)
    return page(qs.order_by("namespace", "name", "id"), limit, offset)


def job(ns: str, name: str, as_of=None) -> Node:
    node = ol(NodeKind.JOB.value, as_of).filter(namespace=ns, name=name).first()
    if node is None:
        raise NotFound(f"Job '{name}' not found in namespace '{ns}'.")
    return node


def jobs_io(job_ids, as_of=None, flow: Dataflow | None = None) -> dict[int, tuple[list[Node], list[Node]]]:
    """Job id -> (input datasets, output datasets): its latest run's, as the lineage graph derives them."""
    pairs = (flow or Dataflow(as_of)).job_io(job_ids)
    nodes = Node.objects.in_bulk(sorted({d for _j, d, _r in pairs}))
    out: dict[int, tuple[list, list]] = {j: ([], []) for j in job_ids}
    for j, d, role in pairs:
        out[j][0 if role == "in" else 1].append(nodes[d])
    for ins, outs in out.values():
        ins.sort(key=lambda n: (n.namespace, n.name))
        outs.sort(key=lambda n: (n.namespace, n.name))
    return out


def runs_qs(job_node: Node, as_of=None):
    edges = Q(in_edges__kind="instance_of", in_edges__src_id=job_node.pk)
    if as_of is None:
        edges &= Q(in_edges__valid_to__isnull=True)
    else:
        edges &= Q(in_edges__valid_from__lte=as_of) & (Q(in_edges__valid_to__isnull=True) | Q(in_edges__valid_to__gt=as_of))
    return ol(NodeKind.RUN.value, as_of).filter(edges).order_by("-first_seen", "-id")


def run(run_id: str, as_of=None) -> Node:
    qs = ol(NodeKind.RUN.value, as_of)
    node = qs.filter(source_id=run_id).first()
    if node is None and shapes.as_uuid(run_id):
        node = qs.filter(source_id=shapes.as_uuid(run_id)).first()
    if node is None:
        raise NotFound(f"Run '{run_id}' not found.")
    return node


_JOB_OF_RUN_SQL = ("SELECT e.dst_id, e.src_id FROM lineage_edge e JOIN lineage_node j ON j.id = e.src_id "
                   "WHERE e.kind = 'instance_of' AND j.kind = 'job' AND {live:e} AND e.dst_id IN ({ids})")
_RUN_IO_SQL = """
SELECT e.dst_id, e.src_id, 'in' FROM lineage_edge e JOIN lineage_node x ON x.id = e.src_id
WHERE e.kind = 'consumed' AND {live:e} AND x.kind = 'dataset_version' AND e.dst_id IN ({ids})
UNION ALL
SELECT e.src_id, e.dst_id, 'out' FROM lineage_edge e JOIN lineage_node x ON x.id = e.dst_id
WHERE e.kind = 'produced' AND {live:e} AND x.kind = 'dataset_version' AND e.src_id IN ({ids})
"""


def jobs_of_runs(run_ids, as_of=None) -> dict[int, Node]:
    pairs = rows(_JOB_OF_RUN_SQL, run_ids, as_of)
    found = Node.objects.in_bulk(sorted({j for _r, j in pairs}))
    return {r: found[j] for r, j in pairs}


def runs_io(runs: dict[int, dict], as_of=None) -> dict[int, tuple[list, list]]:
    """Run id -> ([(input version, input facets)], [(output version, output facets)]); `runs` maps run ids to
    their properties (input facets live on the run, output facets on the version). Inputs read before any
    version of their dataset existed have no version, and Marquez's listing has no place for them."""
    pairs = rows(_RUN_IO_SQL, runs, as_of)
    versions = Node.objects.in_bulk(sorted({v for _r, v, _role in pairs}))
    version_props = props_at(versions.values(), as_of)
    out: dict[int, tuple[list, list]] = {r: ([], []) for r in runs}
    for run_id, version_id, role in sorted(pairs, key=lambda p: (p[0], p[2], p[1])):
        v = versions[version_id]
        if role == "in":
            facets = ((runs[run_id].get("input_facets") or {}).get(f"{v.namespace}:{v.name}") or {})
            out[run_id][0].append((v, facets))
        else:
            out[run_id][1].append((v, version_props[version_id].get("output_facets") or {}))
    return out


def run_shapes(run_nodes, as_of=None, job_node: Node | None = None, jobs_by_run: dict | None = None) -> list[dict]:
    """Marquez's Run for each of `run_nodes`, with its job version and dataset versions (a few queries for
    the whole list, whatever its length)."""
    run_nodes = list(run_nodes)
    props = props_at(run_nodes, as_of)
    if jobs_by_run is None:
        jobs_by_run = {r.pk: job_node for r in run_nodes} if job_node is not None else jobs_of_runs(props, as_of)
    io = runs_io(props, as_of)
    return [shapes.run(r, props[r.pk], job=jobs_by_run.get(r.pk), inputs=io[r.pk][0], outputs=io[r.pk][1])
            for r in run_nodes]


def job_shapes(job_nodes, as_of=None) -> list[dict]:
    job_nodes = list(job_nodes)
    ids = [j.pk for j in job_nodes]
    props = props_at(job_nodes, as_of)
    flow = Dataflow(as_of)
    io = jobs_io(ids, as_of, flow)
    latest = runs_with_props(flow.latest_of(ids), as_of)  # ranked once, by job_io
    by_id = {j.pk: j for j in job_nodes}
    latest_nodes = [run for run, _props in latest.values()]
    shaped = run_shapes(latest_nodes, as_of, jobs_by_run={run.pk: by_id[job] for job, (run, _p) in latest.items()})
    runs = {run.pk: data for run, data in zip(latest_nodes, shaped)}
    return [shapes.job(j, props[j.pk], inputs=io[j.pk][0], outputs=io[j.pk][1],
                       latest_run=runs[latest[j.pk][0].pk] if j.pk in latest else None,
                       latest_run_node=latest[j.pk][0] if j.pk in latest else None) for j in job_nodes]


def dataset_shapes(dataset_nodes, as_of=None) -> list[dict]:
    dataset_nodes = list(dataset_nodes)
    props = props_at(dataset_nodes, as_of)
    current = current_versions(dataset_nodes, as_of)
    return [shapes.dataset(d, props[d.pk], current_version=current.get(d.pk),
                           last_modified=current[d.pk].first_seen if d.pk in current else None)
            for d in dataset_nodes]


def version_shapes(ds: Node, version_nodes, as_of=None) -> list[dict]:
    version_nodes = list(version_nodes)
    props = props_at(version_nodes, as_of)
    ds_props = props_at([ds], as_of)[ds.pk]
    producers = producing_runs([v.pk for v in version_nodes], as_of)
    runs = {r.pk: shape for r, shape in zip(producers.values(), run_shapes(producers.values(), as_of))}
    return [shapes.dataset_version(v, props[v.pk], ds_props,
                                   runs.get(producers[v.pk].pk) if v.pk in producers else None)
            for v in version_nodes]


# -- tags and search ---------------------------------------------------------------------------------
def tags(limit: int, offset: int, as_of=None) -> tuple[list[str], int]:
    """Tag names from the `tags` facets of jobs and datasets. Only the nodes that hold such a facet are read
    (a JSON key test); the names are sorted and paged here."""
    names: set[str] = set()
    qs = Node.objects.filter(source=OL, kind__in=MARQUEZ_KINDS, properties__facets__has_key="tags")
    if as_of is not None:
        qs = qs.filter(first_seen__lte=as_of)
    nodes = list(qs.only("id", "properties"))
    for node_id, props in props_at(nodes, as_of).items():
        names.update(shapes.tag_names(props))
    ordered = sorted(names)
    return ordered[offset:offset + limit], len(ordered)


def _like(text: str) -> str:
    """Marquez's search pattern: its own `%` and `_` wildcards, matched anywhere in the name."""
    return "%" + text.lower() + "%"


def search(q: str, *, kinds, namespace: str | None, before, after, sort: str, limit: int, as_of=None):
    qs = Node.objects.filter(source=OL, kind__in=kinds).extra(where=["LOWER(name) LIKE %s"], params=[_like(q)])
    if namespace:
        qs = qs.filter(namespace=namespace)
    if before is not None:
        qs = qs.filter(last_seen__lt=before)
    if after is not None:
        qs = qs.filter(last_seen__gt=after)
    if as_of is not None:
        qs = qs.filter(first_seen__lte=as_of)
    qs = qs.order_by("-last_seen", "id") if sort == "UPDATE_AT" else qs.order_by("name", "namespace", "id")
    return list(qs.only("id", "kind", "namespace", "name", "last_seen")[:limit]), qs.count()
