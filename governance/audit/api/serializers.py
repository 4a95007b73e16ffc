from rest_framework import serializers

from governance.audit.models import AuditCheckpoint, AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = (
            "seq", "at", "actor_id", "actor_username", "action", "object_type", "object_id", "before", "after",
            "request_id", "client_ip", "reason", "prev_hash", "hash",
        )
        read_only_fields = fields


class AuditCheckpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditCheckpoint
        fields = ("seq", "entry_hash", "created_at", "algorithm", "key_id", "signature")
        read_only_fields = fields


class CheckpointRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class ExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=("jsonl", "csv"), default="jsonl")
    seq_min = serializers.IntegerField(required=False, min_value=1)
    seq_max = serializers.IntegerField(required=False, min_value=1)

    def validate(self, data):
        if "seq_min" in data and "seq_max" in data and data["seq_min"] > data["seq_max"]:
            raise serializers.ValidationError("seq_min is after seq_max")
        return data
