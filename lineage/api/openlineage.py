"""OpenLineage's HTTP API, as Marquez serves it: `POST /api/v1/lineage`, `POST /api/v1/lineage/batch`
and the Marquez lineage read `GET /api/v1/lineage?nodeId=…&depth=…`.

The views read the body themselves instead of through DRF's parsers: producers send
`Content-Encoding: gzip` (openlineage-python's `compression: gzip`), which DRF does not undo, and a
rejected body must be answered with a reason a producer's log can show.
"""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from lineage import rules
from lineage.ingest import service
from lineage.ingest.events import MAX_BODY_BYTES, IngestRejected, decode_body, event_too_large, max_event_bytes
from lineage.ingest.throttling import IngestRateThrottle

DEFAULT_DEPTH = 20  # Marquez's default


def _json_content_type(request) -> None:
    """OpenLineage's HTTP transport (and Marquez) send application/json; anything else, or nothing, is
    refused as 415 rather than guessed at: a text/plain or XML body read as JSON answers a confusing 400."""
    given = request.META.get("CONTENT_TYPE", "")
    media = given.split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return
    shown = f"Content-Type {given!r}" if given.strip() else "a body without Content-Type"
    raise IngestRejected(415, "unsupported_media_type", f"{shown} is not accepted; send application/json")


def _read_body(request, single: bool = False) -> object:
    _json_content_type(request)
    raw = request._request.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise IngestRejected(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    body = decode_body(raw, request.META.get("HTTP_CONTENT_ENCODING", ""))
    if single and len(raw) > max_event_bytes() and not isinstance(body, list):
        raise event_too_large(len(raw))  # spares the parse checks; a batch's items are measured one by one
    return body


def _rejected(exc: IngestRejected) -> Response:
    return Response(exc.as_json(), status=exc.status)


CanIngest = rules.RULES.permission("ingest")


class LineageView(APIView):
    """Reading needs any role; ingesting needs engineer or admin."""

    permission_classes = [CanIngest]
    throttle_classes = [IngestRateThrottle]

    @extend_schema(
        summary="Marquez-compatible lineage graph around a dataset or job",
        parameters=[
            OpenApiParameter("nodeId", str, required=True, description="dataset:NAMESPACE:NAME or job:NAMESPACE:NAME"),
            OpenApiParameter("depth", int, required=False, description=f"hops to follow (default {DEFAULT_DEPTH})"),
            OpenApiParameter("as_of", OpenApiTypes.DATETIME, required=False, description="the graph as it stood then"),
            OpenApiParameter("maxNodes", int, required=False, description="answer size bound (default and most 10000)"),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        from lineage.marquez.views import lineage_answer

        return lineage_answer(request)

    def get_exception_handler(self):
        """Reads answer errors in Marquez's shape (its clients read them); ingest keeps its own."""
        if self.request is not None and self.request.method in ("GET", "HEAD"):
            from lineage.marquez.views import _handler

            return _handler
        return super().get_exception_handler()

    @extend_schema(
        summary="Ingest one OpenLineage RunEvent, JobEvent or DatasetEvent (spec 2-0-2; gzip accepted)",
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 422: OpenApiTypes.OBJECT, 429: OpenApiTypes.OBJECT},
    )
    def post(self, request):
        try:
            prepared = service.ingest_event(_read_body(request, single=True), request.user)
        except IngestRejected as exc:
            return _rejected(exc)
        e = prepared.event
        return Response(
            {
                "status": "duplicate" if prepared.duplicate else "created",
                "kind": e.kind,
                "eventType": e.event_type or None,
                "runId": e.run_id or None,
                "job": {"namespace": e.job_namespace, "name": e.job_name} if e.job_name else None,
                "dataset": {"namespace": e.dataset.namespace, "name": e.dataset.name} if e.dataset else None,
                "strict_ok": not prepared.strict_errors,
                "strict_errors": prepared.strict_errors,
            },
            status=status.HTTP_201_CREATED,
        )


class LineageBatchView(APIView):
    permission_classes = [CanIngest]
    throttle_classes = [IngestRateThrottle]
    http_method_names = ["post", "options"]

    @extend_schema(
        summary="Ingest a JSON array of OpenLineage events; per-event failures are reported, not fatal",
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 429: OpenApiTypes.OBJECT},
    )
    def post(self, request):
        try:
            answer = service.ingest_batch(_read_body(request), request.user)
        except IngestRejected as exc:
            return _rejected(exc)
        return Response(answer, status=status.HTTP_200_OK)
