"""The ingest log as an API: list and detail of IngestedEvent rows, for every role; nothing writable
(events are written only through POST /api/v1/lineage, which audits them)."""
from rest_framework import viewsets

from lineage.ingest.api.serializers import IngestedEventSerializer
from lineage.ingest.filtersets import IngestedEventFilterSet
from lineage.ingest.models import IngestedEvent


class IngestedEventViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = IngestedEvent.objects.all()
    serializer_class = IngestedEventSerializer
    filterset_class = IngestedEventFilterSet
    search_fields = ["run_id", "job_name", "dataset_name", "producer"]
    ordering_fields = ["id", "event_time", "received_at"]
