"""Request and answer shapes of the same-as link endpoint."""
from rest_framework import serializers

from lineage.models import Edge, Node


class SameAsLinkRequest(serializers.Serializer):
    src = serializers.PrimaryKeyRelatedField(queryset=Node.objects.all(), help_text="The original (e.g. a Kubeflow model artifact)")
    dst = serializers.PrimaryKeyRelatedField(queryset=Node.objects.all(), help_text="The copy (e.g. a Viya model version)")
    reason = serializers.CharField(max_length=2000, trim_whitespace=True)


class SameAsEdge(serializers.ModelSerializer):
    class Meta:
        model = Edge
        fields = ["id", "kind", "src", "dst", "source", "valid_from", "valid_to", "properties"]
        read_only_fields = fields
