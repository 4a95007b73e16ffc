"""API representations of bundles, holds and retention policies."""
from rest_framework import serializers

from governance.archive.models import (BUNDLE_SUBJECT_KINDS, HOLD_KINDS, BundleBuild, EvidenceBundle, LegalHold,
                                      RetentionPolicy)
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

    def validate_node(self, node):
        # Checked here, not only by the service, so a build the workers would refuse is never queued.
        if node.kind not in BUNDLE_SUBJECT_KINDS:
            raise serializers.ValidationError(
                f"bundles are built for {', '.join(BUNDLE_SUBJECT_KINDS)} nodes, not {node.kind}")
        return node


class BundleBuildSerializer(serializers.ModelSerializer):
    """A queued bundle build: poll `url` until `state` is done (then `bundle` is set) or failed (`error`)."""

    url = serializers.SerializerMethodField()
    bundle_url = serializers.SerializerMethodField()

    class Meta:
        model = BundleBuild
        fields = [
            "id", "url", "state", "node", "subject_kind", "subject_source_id", "depth", "requested_by",
            "requested_by_username", "request_id", "task_id", "attempts", "bundle", "bundle_url", "error",
            "created_at", "started_at", "finished_at",
        ]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        return f"/api/archive/bundle-builds/{obj.pk}/"

    def get_bundle_url(self, obj) -> str | None:
        return f"/api/archive/bundles/{obj.bundle_id}/" if obj.bundle_id else None


class BuildRefusedSerializer(serializers.Serializer):
    error = serializers.CharField()
    detail = serializers.CharField()
    build = serializers.IntegerField(required=False, help_text="The build, closed as failed")


class BundleUploadSerializer(serializers.Serializer):
    file = serializers.FileField()

    def validate_file(self, upload):
        from governance.archive.api.uploads import max_upload_bytes

        limit = max_upload_bytes()
        if upload.size > limit:
            raise serializers.ValidationError(f"the file is larger than {limit} bytes")
        return upload


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


class VerifyResultSerializer(serializers.Serializer):
    """What the verifier said; `problem` names the first thing wrong when `ok` is false."""

    ok = serializers.BooleanField()
    problem = serializers.CharField(allow_null=True)
    sha256 = serializers.CharField(allow_null=True)
    files = serializers.IntegerField(required=False)
    nodes = serializers.IntegerField(required=False)
    edges = serializers.IntegerField(required=False)
    audit_entries = serializers.IntegerField(required=False)
    notes = serializers.ListField(child=serializers.CharField(), required=False)
    registered = serializers.BooleanField(required=False, help_text="A bundle with this SHA-256 is registered here")
    signature = serializers.ChoiceField(
        choices=["verified", "not_checked", "unknown_key", "no_checkpoint"], required=False,
        help_text="whether the audit checkpoint's signature was verified with a key this deployment holds")
    checkpoint = serializers.DictField(required=False, allow_null=True,
                                       help_text="the signed checkpoint found in the bundle: seq, key_id, algorithm, created_at")
    trust = serializers.CharField(required=False, help_text="built, verified (restored, signed) or untrusted")
    error = serializers.CharField(required=False)
    detail = serializers.CharField(required=False)


class RetentionDecisionSerializer(serializers.Serializer):
    node_id = serializers.IntegerField()
    kind = serializers.CharField()
    source = serializers.CharField()
    source_id = serializers.CharField()
    name = serializers.CharField()
    first_seen = serializers.CharField()
    action = serializers.ChoiceField(choices=["prune", "keep"])
    reason = serializers.CharField()
    bundles = serializers.ListField(child=serializers.CharField())


class RetentionRunSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    pruned = serializers.IntegerField()
    kept = serializers.IntegerField()
    decisions = RetentionDecisionSerializer(many=True)
