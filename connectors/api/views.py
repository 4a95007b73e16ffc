"""Connector configuration (admins only: it names hosts and holds credentials) and harvest records (every
role may read them: engineers and auditors need to know how fresh the lineage is).

Every configuration write is audited in the same transaction as the write, with `audit_data()` so secret
values never reach the trail.
"""
from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from connectors import registry
from connectors.api.serializers import ConnectorConfigSerializer, HarvestSerializer
from connectors.base import run_harvest
from connectors.filtersets import ConnectorConfigFilterSet, HarvestFilterSet
from connectors.models import ConnectorConfig, Harvest
from governance.accounts.permissions import IsAdminRole, RoleReadOnlyOrDeny
from governance.audit import context
from governance.audit.recorder import record


class ConnectorConfigViewSet(viewsets.ModelViewSet):
    queryset = ConnectorConfig.objects.order_by("name")
    serializer_class = ConnectorConfigSerializer
    permission_classes = [IsAdminRole]
    filterset_class = ConnectorConfigFilterSet
    lookup_field = "name"
    search_fields = ["name"]
    ordering_fields = ["name", "kind", "created_at"]

    def perform_create(self, serializer):
        with transaction.atomic():
            config = serializer.save()
            record("connector.create", "connector", config.pk, after=config.audit_data())

    def perform_update(self, serializer):
        with transaction.atomic():
            before = ConnectorConfig.objects.select_for_update().get(pk=serializer.instance.pk).audit_data()
            config = serializer.save()
            record("connector.update", "connector", config.pk, before=before, after=config.audit_data())

    def perform_destroy(self, instance):
        with transaction.atomic():
            before = instance.audit_data()
            pk = instance.pk
            instance.delete()
            record("connector.delete", "connector", pk, before=before)

    @extend_schema(request=None, responses={201: HarvestSerializer, 502: HarvestSerializer})
    @action(detail=True, methods=["post"])
    def harvest(self, request, name=None):
        """Harvest this connector now, as `harvester:<kind>` on behalf of the requesting admin."""
        config = self.get_object()
        if not config.enabled:
            return Response({"error": "disabled", "detail": f"connector {config.name!r} is disabled"},
                            status=status.HTTP_409_CONFLICT)
        try:
            connector = registry.plugin(config.kind).from_config(config)
        except (ValueError, ImportError) as exc:
            return Response({"error": "misconfigured", "detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        here = context.current()
        ctx = context.AuditContext(user_id=request.user.pk, username=request.user.get_username(),
                                   request_id=here.request_id, client_ip=here.client_ip,
                                   service=f"harvester:{config.kind}")
        with context.acting_as(ctx):
            try:
                result = run_harvest(connector, config=config)
            except Exception:  # noqa: BLE001 - the failed Harvest record says why
                result = Harvest.objects.filter(connector=config).order_by("-pk").first()
                return Response(HarvestSerializer(result).data, status=status.HTTP_502_BAD_GATEWAY)
        return Response(HarvestSerializer(result).data, status=status.HTTP_201_CREATED)


class HarvestViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Harvest.objects.select_related("connector")
    serializer_class = HarvestSerializer
    permission_classes = [RoleReadOnlyOrDeny]
    filterset_class = HarvestFilterSet
    ordering_fields = ["started_at", "finished_at"]
