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

from connectors.api.serializers import (ConnectorConfigSerializer, HarvestQueuedSerializer, HarvestRefusedSerializer,
                                        HarvestSerializer)
from connectors import service, tasks
from connectors.filtersets import ConnectorConfigFilterSet, HarvestFilterSet
from connectors.models import ConnectorConfig, Harvest, HarvestStatus
from governance.accounts.permissions import IsAdminRole, RoleReadOnlyOrDeny
from common.audit import context, record


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
            record("connector.create", "connector", config.pk, after=_audit_data(config))

    def perform_update(self, serializer):
        with transaction.atomic():
            before = _audit_data(ConnectorConfig.objects.select_for_update().get(pk=serializer.instance.pk))
            config = serializer.save()
            record("connector.update", "connector", config.pk, before=before, after=_audit_data(config))

    def perform_destroy(self, instance):
        with transaction.atomic():
            before = _audit_data(instance)
            pk = instance.pk
            tasks.remove_schedule(instance)
            instance.delete()
            record("connector.delete", "connector", pk, before=before)

    @extend_schema(request=None, responses={
        201: HarvestSerializer, 202: HarvestQueuedSerializer, 400: HarvestRefusedSerializer,
        409: HarvestRefusedSerializer, 502: HarvestSerializer, 503: HarvestRefusedSerializer})
    @action(detail=True, methods=["post"])
    def harvest(self, request, name=None):
        """Harvest this connector now, as `harvester:<kind>` on behalf of the requesting admin.

        With a broker the harvest is queued for the workers (202, with the Celery task id and the Harvest id
        to poll); without one it runs here (201 succeeded, 502 failed). One harvest of a connector at a
        time: a second start while one runs is a 409 "already_running" naming the running harvest. A broker
        that cannot be reached is a 503, and the claimed harvest is closed as failed (the lock is free)."""
        config = self.get_object()
        try:
            started = service.start_harvest(config, ctx=context.snapshot())
        except service.HarvestRefused as exc:
            body = {"error": exc.code, "detail": exc.detail}
            if exc.harvest is not None:
                body["harvest"] = exc.harvest.pk
            code = {"misconfigured": status.HTTP_400_BAD_REQUEST,
                    "broker_unavailable": status.HTTP_503_SERVICE_UNAVAILABLE}.get(exc.code, status.HTTP_409_CONFLICT)
            return Response(body, status=code)
        except Exception:  # noqa: BLE001 - ran here and failed: the failed Harvest record says why
            started = None
        if started is not None and started.queued:
            return Response({"status": "queued", "task_id": started.task_id, "harvest": started.harvest.pk},
                            status=status.HTTP_202_ACCEPTED)
        harvest = Harvest.objects.filter(connector=config).order_by("-started_at", "-pk").first()
        code = (status.HTTP_201_CREATED if harvest.status in (HarvestStatus.SUCCEEDED, HarvestStatus.PARTIAL)
                else status.HTTP_502_BAD_GATEWAY)
        return Response(HarvestSerializer(harvest).data, status=code)


def _audit_data(config: ConnectorConfig) -> dict:
    """The model's audit view plus its harvest schedule, so a schedule change is in the trail too."""
    return {**config.audit_data(), "schedule": tasks.schedule_of(config)}


class HarvestViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Harvest.objects.select_related("connector")
    serializer_class = HarvestSerializer
    permission_classes = [RoleReadOnlyOrDeny]
    filterset_class = HarvestFilterSet
    ordering_fields = ["started_at", "finished_at"]
