"""Connector configuration (admins only: it names hosts and holds credentials) and harvest records (every
role may read them: engineers and auditors need to know how fresh the lineage is).

Every configuration write is audited in the same transaction as the write, with `audit_data()` so secret
values never reach the trail.
"""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from connectors.api.serializers import (ConnectorConfigSerializer, HarvestQueuedSerializer, HarvestRefusedSerializer,
                                        HarvestSerializer)
from common.errors import ServiceError
from connectors import service, tasks
from connectors import rules
from connectors.filtersets import ConnectorConfigFilterSet, HarvestFilterSet
from connectors.models import ConnectorConfig, Harvest, HarvestStatus
from common.audit import context
from governance.audit.viewsets import AuditedModelViewSet


class ConnectorConfigViewSet(AuditedModelViewSet):
    audit_type = "connector"
    queryset = ConnectorConfig.objects.order_by("name")
    serializer_class = ConnectorConfigSerializer
    permission_classes = [rules.RULES.permission("configure", read_action="configure")]
    filterset_class = ConnectorConfigFilterSet
    lookup_field = "name"
    search_fields = ["name"]
    ordering_fields = ["name", "kind", "created_at"]

    def audit_data(self, obj):
        return _audit_data(obj)

    def locked_before(self, instance):
        # Two admins editing at once: the "before" each records is the row as its own change found it.
        return ConnectorConfig.objects.select_for_update().get(pk=instance.pk)

    def before_destroy(self, instance):
        tasks.remove_schedule(instance)

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
            extra = {"harvest": exc.harvest.pk} if exc.harvest is not None else {}
            code = {"misconfigured": status.HTTP_400_BAD_REQUEST,
                    "broker_unavailable": status.HTTP_503_SERVICE_UNAVAILABLE}.get(exc.code, status.HTTP_409_CONFLICT)
            raise ServiceError(exc.detail, code=exc.code, status=code, **extra) from None
        except Exception:
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
    queryset = Harvest.objects.select_related("connector")  # the model, for the schema and the router
    serializer_class = HarvestSerializer
    permission_classes = [rules.RULES.permission("harvest")]
    filterset_class = HarvestFilterSet
    ordering_fields = ["started_at", "finished_at"]

    def get_queryset(self):
        return rules.visible_to(self.request.user)
