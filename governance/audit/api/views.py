"""Audit trail API: read, verify and export for auditors and admins; on-demand checkpoints for admins.

Only auditors and admins may read the trail at all (it holds before/after data of every governed record),
so every view here uses `AuditorsRead`, which also limits writing (the checkpoint action) to admins.
"""
from __future__ import annotations

from django.http import StreamingHttpResponse
from common.filter_backend import BoundedFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import Conflict
from governance.audit import export, recorder, rules
from governance.audit.api.serializers import (
    AuditCheckpointSerializer,
    AuditEntrySerializer,
    CheckpointRequestSerializer,
    ExportQuerySerializer,
)
from governance.audit.filtersets import AuditEntryFilterSet
from governance.audit.models import AuditCheckpoint, AuditEntry
from governance.audit.verify import verify_chain

# Auditors (and admins) read; only admins write (a manual checkpoint): governance/audit/rules.py.
AuditorsRead = rules.RULES.permission("checkpoint")


class NewestFirst(CursorPagination):
    ordering = "-seq"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000


class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = AuditEntry.objects.all()
    serializer_class = AuditEntrySerializer
    permission_classes = [AuditorsRead]
    filter_backends = [BoundedFilterBackend]
    filterset_class = AuditEntryFilterSet
    pagination_class = NewestFirst
    lookup_field = "seq"
    lookup_value_regex = r"[0-9]+"


class AuditCheckpointViewSet(viewsets.ReadOnlyModelViewSet):
    """List checkpoints; POST signs the chain's current tail now (admins only)."""

    queryset = AuditCheckpoint.objects.all()
    serializer_class = AuditCheckpointSerializer
    permission_classes = [AuditorsRead]
    filter_backends = []
    pagination_class = NewestFirst
    lookup_field = "seq"
    lookup_value_regex = r"[0-9]+"

    @extend_schema(request=CheckpointRequestSerializer, responses={201: AuditCheckpointSerializer})
    def create(self, request):
        payload = CheckpointRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            cp = recorder.checkpoint(reason=payload.validated_data["reason"])
        except recorder.EmptyChain as exc:
            raise Conflict(str(exc), code="empty_chain") from None
        return Response(AuditCheckpointSerializer(cp).data, status=status.HTTP_201_CREATED)


class VerifyView(APIView):
    permission_classes = [AuditorsRead]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        """Walk the whole chain: verified range, checkpoints, and the first broken link (null when intact)."""
        return Response(verify_chain().as_dict())


class _IgnoreFormatParameter(BaseContentNegotiation):
    """`?format=` picks the export format here, not a DRF renderer; errors are always JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ExportView(APIView):
    permission_classes = [AuditorsRead]
    content_negotiation_class = _IgnoreFormatParameter

    @extend_schema(parameters=[ExportQuerySerializer], responses={
        (200, "application/x-ndjson"): OpenApiTypes.STR, (200, "text/csv"): OpenApiTypes.STR})
    def get(self, request):
        """Stream the trail (or seq_min..seq_max) as JSON Lines or CSV, with hashes and signed checkpoints.

        The export itself is recorded in the trail, after the exported range."""
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        fmt = query.validated_data["format"]
        header = export.plan(query.validated_data.get("seq_min"), query.validated_data.get("seq_max"))
        recorder.record(
            "audit.export", "audit_trail", "",
            after={"format": fmt, "first_seq": header["first_seq"], "last_seq": header["last_seq"]},
        )
        response = StreamingHttpResponse(export.WRITERS[fmt](header), content_type=export.CONTENT_TYPES[fmt])
        name = f"audit-{header['first_seq']}-{header['last_seq']}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
