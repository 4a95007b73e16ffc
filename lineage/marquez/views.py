"""Marquez's read endpoints under /api/v1/. Thin: parameters (params), store reads (queries and the graph
modules), shapes (shapes); errors in Marquez's shape (errors). Every answer accepts `as_of`.

Who may read: anyone holding a role (engineer, auditor, approver, admin), as everywhere in the API;
anonymous requests get 401, users without a role 403. Marquez's deprecated writes are refused (writes).
"""
from __future__ import annotations

import orjson
from django.http import HttpResponse
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import json_exception_handler
from common.roles import roles_of
from lineage.marquez import (column_lineage as column, errors, events, graph, graph_json, params, queries, run_lineage,
                             shapes)
from lineage.marquez.writes import refuse
from lineage.models import Node


class AnyRole(BasePermission):
    """Any role may call; the only methods served are reads (writes are refused with a reason, audited)."""

    message = "You need a role (engineer, auditor, approver or admin) to use the Marquez API."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and roles_of(request.user))


def _handler(exc, context):
    return errors.from_exception(exc) or json_exception_handler(exc, context)


class MarquezView(APIView):
    permission_classes = [AnyRole]
    renderer_classes = [JSONRenderer]
    # Described by Marquez's own openapi.yml (docs/marquez-api.md), not by our /api/schema/.
    schema = None
    # Methods Marquez's description has on this path for writing: answered by writes.refuse.
    refused: tuple[str, ...] = ()

    def get_exception_handler(self):
        return _handler

    def http_method_not_allowed(self, request, *args, **kwargs):
        if request.method.lower() in self.refused:
            return refuse(request, allowed=self._allowed())
        return errors.response(405, f"Method {request.method} is not allowed on {request.path}.",
                               headers={"Allow": self._allowed()})

    def _allowed(self) -> str:
        return "GET, HEAD, OPTIONS" if hasattr(self, "get") else "OPTIONS"

    @property
    def as_of(self):
        return params.as_of(self.request.query_params)

    def paging(self, default_limit: int = params.DEFAULT_LIMIT) -> tuple[int, int]:
        return params.paging(self.request.query_params, default_limit)


def _call(fn, *args, **kwargs):
    """Graph reads raise ValueError for bad input and LookupError for unknown nodes: Marquez's 400 / 404."""
    try:
        return fn(*args, **kwargs)
    except LookupError as exc:
        raise errors.NotFound(str(exc)) from None
    except ValueError as exc:
        raise errors.BadRequest(str(exc)) from None


def _namespace(row: dict) -> dict:
    return {"name": row["namespace"], "createdAt": shapes.iso(row["created"]), "updatedAt": shapes.iso(row["updated"]),
            "ownerName": "anonymous", "description": "", "isHidden": False}


def _source_type(url: str) -> str:
    """The connection URL's scheme, as a Marquez source type (postgres://… is POSTGRESQL)."""
    scheme = url.split("://", 1)[0].upper() if "://" in url else ""
    return {"POSTGRES": "POSTGRESQL"}.get(scheme, scheme or "DEFAULT")


def _source(row: dict) -> dict:
    url = row.get("uri") or row["source_name"]
    return {"type": _source_type(url), "name": row["source_name"], "createdAt": shapes.iso(row["created"]),
            "updatedAt": shapes.iso(row["updated"]), "connectionUrl": url, "description": ""}


class NamespaceList(MarquezView):
    def get(self, request):
        limit, offset = self.paging()
        found, total = queries.namespaces(limit, offset, self.as_of)
        return Response({"namespaces": [_namespace(r) for r in found], "totalCount": total})


class NamespaceDetail(MarquezView):
    refused = ("put", "delete")

    def get(self, request, namespace):
        return Response(_namespace(queries.namespace(namespace, self.as_of)))


class SourceList(MarquezView):
    def get(self, request):
        limit, offset = self.paging()
        found, total = queries.sources(limit, offset, self.as_of)
        return Response({"sources": [_source(r) for r in found], "totalCount": total})


class SourceDetail(MarquezView):
    refused = ("put",)

    def get(self, request, source):
        return Response(_source(queries.source(source, self.as_of)))


class DatasetList(MarquezView):
    def get(self, request, namespace):
        limit, offset = self.paging()
        as_of = self.as_of
        found, total = queries.datasets(namespace, limit, offset, as_of)
        return Response({"datasets": queries.dataset_shapes(found, as_of), "totalCount": total})


class DatasetDetail(MarquezView):
    refused = ("put", "delete")

    def get(self, request, namespace, dataset):
        as_of = self.as_of
        return Response(queries.dataset_shapes([queries.dataset(namespace, dataset, as_of)], as_of)[0])


class DatasetVersionList(MarquezView):
    def get(self, request, namespace, dataset):
        limit, offset = self.paging()
        as_of = self.as_of
        ds = queries.dataset(namespace, dataset, as_of)
        found, total = queries.page(queries.versions_qs(ds, as_of), limit, offset)
        return Response({"versions": queries.version_shapes(ds, found, as_of), "totalCount": total})


class DatasetVersionDetail(MarquezView):
    def get(self, request, namespace, dataset, version):
        as_of = self.as_of
        ds = queries.dataset(namespace, dataset, as_of)
        return Response(queries.version_shapes(ds, [queries.dataset_version(ds, version, as_of)], as_of)[0])


class RefusedWrite(MarquezView):
    """Paths that only ever wrote (tagging, run transitions, tag creation)."""

    refused = ("put", "post", "delete")


class JobList(MarquezView):
    def get(self, request, namespace=None):
        limit, offset = self.paging()
        as_of = self.as_of
        found, total = queries.jobs(namespace, limit, offset, as_of)
        return Response({"jobs": queries.job_shapes(found, as_of), "totalCount": total})


class JobDetail(MarquezView):
    refused = ("put", "delete")

    def get(self, request, namespace, job):
        as_of = self.as_of
        return Response(queries.job_shapes([queries.job(namespace, job, as_of)], as_of)[0])


def _job_versions(job, run_nodes, as_of) -> list[dict]:
    """One version per run; its inputs and outputs are the datasets that run read and wrote (the job's
    current version's are what GET job lists: its latest run's)."""
    run_data = queries.run_shapes(run_nodes, as_of, job_node=job)
    job_props = graph.props_at([job], as_of)[job.pk]
    pairs = graph.holder_io([r.pk for r in run_nodes], as_of)
    datasets = Node.objects.in_bulk(sorted({d for _r, d, _role in pairs}))

    def of(run, role):
        return sorted((datasets[d] for r, d, rl in pairs if r == run.pk and rl == role),
                      key=lambda n: (n.namespace, n.name))

    return [shapes.job_version(job, job_props, node, data, of(node, "in"), of(node, "out"))
            for node, data in zip(run_nodes, run_data)]


class JobVersionList(MarquezView):
    def get(self, request, namespace, job):
        limit, offset = self.paging()
        as_of = self.as_of
        job_node = queries.job(namespace, job, as_of)
        found, total = queries.page(queries.runs_qs(job_node, as_of), limit, offset)
        return Response({"versions": _job_versions(job_node, found, as_of), "totalCount": total})


class JobVersionDetail(MarquezView):
    def get(self, request, namespace, job, version):
        as_of = self.as_of
        job_node = queries.job(namespace, job, as_of)
        qs = queries.runs_qs(job_node, as_of)
        run = qs.filter(source_id__in={version, shapes.as_uuid(version) or version}).first()
        if run is None:
            raise errors.NotFound(f"Version '{version}' not found for job '{job}'.")
        return Response(_job_versions(job_node, [run], as_of)[0])


class RunList(MarquezView):
    refused = ("post",)

    def get(self, request, namespace, job):
        limit, offset = self.paging()
        as_of = self.as_of
        job_node = queries.job(namespace, job, as_of)
        found, total = queries.page(queries.runs_qs(job_node, as_of), limit, offset)
        return Response({"runs": queries.run_shapes(found, as_of, job_node=job_node), "totalCount": total})


class RunDetail(MarquezView):
    def get(self, request, run_id):
        as_of = self.as_of
        return Response(queries.run_shapes([queries.run(run_id, as_of)], as_of)[0])


class RunFacets(MarquezView):
    def get(self, request, run_id):
        as_of = self.as_of
        kind = params.choice(request.query_params, "type", ("RUN", "JOB"), "RUN")
        node = queries.run(run_id, as_of)
        if kind == "JOB":
            job = queries.jobs_of_runs([node.pk], as_of).get(node.pk)
            found = shapes.facets(graph.props_at([job], as_of)[job.pk]) if job else {}
        else:
            found = shapes.facets(graph.props_at([node], as_of)[node.pk])
        return Response({"runId": shapes.run_uuid(node.source_id), "facets": found})


def lineage_answer(request) -> Response:
    """GET /api/v1/lineage (served by lineage.api.openlineage.LineageView, which also ingests). Its error
    codes (`invalid_node_id`, `invalid_depth`) are the ones this endpoint answered before the rest came."""
    q = request.query_params
    node_id = q.get("nodeId", "")
    if not node_id:
        raise errors.BadRequest("query param nodeId is required (dataset:NS:NAME or job:NS:NAME)", "invalid_node_id")
    depth = params.integer(q, "depth", graph.DEFAULT_DEPTH, low=0, high=graph.MAX_DEPTH, error="invalid_depth")
    max_nodes = params.integer(q, "maxNodes", graph.MAX_NODES, low=1, high=graph.MAX_NODES)
    as_of = params.as_of(q)
    try:
        # Written close to the rows (graph_json's docstring: the stored facets embedded as they are).
        body = graph_json.marquez_lineage_json(node_id, depth, as_of=as_of, max_nodes=max_nodes)
    except LookupError as exc:
        raise errors.NotFound(str(exc)) from None
    except ValueError as exc:
        raise errors.BadRequest(str(exc), "invalid_node_id") from None
    return HttpResponse(body, content_type="application/json")


def json_response(answer) -> HttpResponse | Response:
    """The answer as JSON written by orjson (a 700 KB graph: 3.5 ms, against 19 ms through DRF's renderer),
    the same JSON values as DRF's; DRF's renderer for what orjson refuses (integers beyond 64 bits)."""
    try:
        return HttpResponse(orjson.dumps(answer), content_type="application/json")
    except orjson.JSONEncodeError:
        return Response(answer)


class ColumnLineage(MarquezView):
    def get(self, request):
        q = request.query_params
        node_id = q.get("nodeId", "")
        if not node_id:
            raise errors.BadRequest("query param nodeId is required (dataset:…, datasetField:… or job:…)")
        depth = params.integer(q, "depth", graph.DEFAULT_DEPTH, low=0, high=graph.MAX_DEPTH)
        max_nodes = params.integer(q, "maxNodes", graph.MAX_NODES, low=1, high=graph.MAX_NODES)
        return Response(_call(column.column_lineage, node_id, depth, params.boolean(q, "withDownstream"),
                              as_of=self.as_of, max_nodes=max_nodes))


class RunLineageUpstream(MarquezView):
    def get(self, request):
        q = request.query_params
        run_id = q.get("runId", "")
        if not run_id:
            raise errors.BadRequest("query param runId is required")
        depth = params.integer(q, "depth", graph.DEFAULT_DEPTH, low=0, high=graph.MAX_DEPTH)
        max_nodes = params.integer(q, "maxNodes", graph.MAX_NODES, low=1, high=graph.MAX_NODES)
        return Response(_call(run_lineage.upstream, run_id, depth, as_of=self.as_of, max_nodes=max_nodes))


class TagList(MarquezView):
    def get(self, request):
        limit, offset = self.paging()
        names, total = queries.tags(limit, offset, self.as_of)
        return Response({"tags": [{"name": n, "description": ""} for n in names], "totalCount": total})


class Search(MarquezView):
    def get(self, request):
        q = request.query_params
        text = q.get("q", "")
        if not text:
            raise errors.BadRequest("query param q is required")
        kind = q.get("filter")
        kinds = {"DATASET": ("dataset",), "JOB": ("job",)}.get(str(kind).upper()) if kind else ("dataset", "job")
        if kinds is None:
            raise errors.BadRequest(f"query param filter must be DATASET or JOB, not {kind!r}")
        sort = params.choice(q, "sort", ("NAME", "UPDATE_AT"), "NAME")
        limit = params.integer(q, "limit", 10, low=0, high=params.MAX_LIMIT)
        found, total = queries.search(text, kinds=kinds, namespace=q.get("namespace") or None,
                                      before=params.timestamp(q, "before"), after=params.timestamp(q, "after"),
                                      sort=sort, limit=limit, as_of=self.as_of)
        return Response({"totalCount": total, "results": [
            {"type": n.kind.upper(), "name": n.name, "updatedAt": shapes.iso(n.last_seen), "namespace": n.namespace,
             "nodeId": shapes.node_id_of(n)} for n in found]})


class LineageEvents(MarquezView):
    def get(self, request, namespace=None):
        q = request.query_params
        limit, offset = self.paging()
        direction = params.choice(q, "sortDirection", ("ASC", "DESC"), "DESC")
        return Response(events.list_events(before=params.timestamp(q, "before"), after=params.timestamp(q, "after"),
                                           ascending=direction == "ASC", limit=limit, offset=offset,
                                           namespace=namespace, as_of=self.as_of))


class NotFoundView(MarquezView):
    """Any other /api/v1/ path: a JSON 404 in Marquez's shape (never Django's HTML page)."""

    def _not_found(self, request, *args, **kwargs):
        raise errors.NotFound(f"HTTP 404 Not Found: no Marquez endpoint {request.path}")

    get = post = put = patch = delete = head = _not_found
