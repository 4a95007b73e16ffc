"""Query filters for the archive API."""
import django_filters

from governance.archive.models import BundleBuild, EvidenceBundle, LegalHold, RetentionPolicy


class EvidenceBundleFilterSet(django_filters.FilterSet):
    class Meta:
        model = EvidenceBundle
        fields = ["node", "subject_kind", "subject_source", "subject_source_id", "sha256", "created_by", "restored"]


class LegalHoldFilterSet(django_filters.FilterSet):
    active = django_filters.BooleanFilter(field_name="released_at", lookup_expr="isnull", label="Only active holds")

    class Meta:
        model = LegalHold
        fields = ["node", "active"]


class RetentionPolicyFilterSet(django_filters.FilterSet):
    class Meta:
        model = RetentionPolicy
        fields = ["node_kind", "enabled"]


class BundleBuildFilterSet(django_filters.FilterSet):
    class Meta:
        model = BundleBuild
        fields = ["state", "node", "requested_by", "bundle", "task_id"]
