"""Request and answer shapes of the same-as link endpoint."""
from rest_framework import serializers

from lineage.models import Edge, ManualLink, Node


class SameAsLinkRequest(serializers.Serializer):
    src = serializers.PrimaryKeyRelatedField(queryset=Node.objects.all(), help_text="The original (e.g. a Kubeflow model artifact)")
    dst = serializers.PrimaryKeyRelatedField(queryset=Node.objects.all(), help_text="The copy (e.g. a Viya model version)")
    reason = serializers.CharField(max_length=2000, trim_whitespace=True)


class SameAsConfirmRequest(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, trim_whitespace=True)


class SameAsEdge(serializers.ModelSerializer):
    manual_link = serializers.SerializerMethodField()

    class Meta:
        model = Edge
        fields = ["id", "kind", "src", "dst", "source", "valid_from", "valid_to", "properties", "manual_link"]
        read_only_fields = fields

    def get_manual_link(self, edge) -> dict | None:
        """Who made the link and who (if anyone) confirmed it; null for links a harvest made."""
        link = ManualLink.objects.filter(edge=edge).first()
        if link is None:
            return None
        return {"created_by": link.created_by_username, "created_at": link.created_at,
                "confirmed_by": link.confirmed_by_username or None, "confirmed_at": link.confirmed_at,
                "confirm_reason": link.confirm_reason or None}
