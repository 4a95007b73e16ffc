"""Read-only representation of ingested events; the raw event itself is at /api/raw-records/<raw>/."""
from rest_framework import serializers

from lineage.ingest.models import IngestedEvent


class IngestedEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = IngestedEvent
        fields = [
            "id", "raw", "digest", "event_kind", "event_type", "event_time_given", "event_time", "run_id",
            "job_namespace", "job_name", "dataset_namespace", "dataset_name", "producer", "schema_url",
            "strict_ok", "strict_errors", "posted_by", "posted_by_username", "request_id", "received_at",
        ]
        read_only_fields = fields
