"""API representations of bundles, holds and retention policies."""
from rest_framework import serializers

from governance.archive.models import HOLD_KINDS, EvidenceBundle, LegalHold, RetentionPolicy
from governance.archive.services import DEFAULT_DEPTH
from lineage import graph
from lineage.models import Node


class EvidenceBundleSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = EvidenceBundle
        fields = [
            "id", "sha256", "size", "format_version", "node", "subject_source", "subject_kind", "subject_source_id",
            "subject_name", "depth", "node_count", "edge_count", "raw_count", "created_at", "created_by",
            "created_by_username", "restored", "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, obj) -> str:
        return f"/api/archive/bundles/{obj.pk}/download"


class BundleCreateSerializer(serializers.Serializer):
    node = serializers.PrimaryKeyRelatedField(queryset=Node.objects.all())
    depth = serializers.IntegerField(min_value=1, max_value=graph.MAX_DEPTH, default=DEFAULT_DEPTH)


class BundleUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class LegalHoldSerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(read_only=True)
    node = serializers.PrimaryKeyRelatedField(queryset=Node.objects.all())
    reason = serializers.CharField(allow_blank=False, trim_whitespace=True)

    class Meta:
        model = LegalHold
        fields = [
            "id", "node", "node_source", "node_kind", "node_source_id", "reason", "active", "placed_at", "placed_by", "released_at",
            "released_by", "release_reason",
        ]
        read_only_fields = ["node_source", "node_kind", "node_source_id", "placed_at", "placed_by", "released_at",
                            "released_by", "release_reason"]

    def validate_node(self, node):
        if node.kind not in HOLD_KINDS:
            raise serializers.ValidationError(f"legal holds are placed on {', '.join(HOLD_KINDS)} nodes, not {node.kind}")
        return node


class ReleaseSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=False, trim_whitespace=True)


class RetentionPolicySerializer(serializers.ModelSerializer):
    max_age_days = serializers.IntegerField(min_value=1, max_value=365 * 100)

    class Meta:
        model = RetentionPolicy
        fields = ["id", "node_kind", "max_age_days", "enabled", "description", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


def policy_data(policy: RetentionPolicy) -> dict:
    return {"node_kind": policy.node_kind, "max_age_days": policy.max_age_days, "enabled": policy.enabled,
            "description": policy.description}
