"""Serializers of the lineage read API. Read-only: lineage facts are written by the store, never by REST."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from lineage import graph
from lineage.kinds import EdgeKind, NodeKind
from lineage.models import Edge, Node, NodeRevision, RawRecord


class RawRecordSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="rawrecord-detail")

    class Meta:
        model = RawRecord
        fields = ["id", "url", "source", "kind", "source_id", "digest", "received_at"]
        read_only_fields = fields


class RawRecordDetailSerializer(RawRecordSerializer):
    """The payload exactly as the source sent it: the auditor's way back to the source record."""

    class Meta(RawRecordSerializer.Meta):
        fields = RawRecordSerializer.Meta.fields + ["body"]
        read_only_fields = fields


class NodeBriefSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="node-detail")

    class Meta:
        model = Node
        fields = ["id", "url", "kind", "source", "namespace", "name", "display_name"]
        read_only_fields = fields


class NodeSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="node-detail")
    raw_url = serializers.HyperlinkedRelatedField(source="raw", view_name="rawrecord-detail", read_only=True,
                                                  allow_null=True)
    archived = serializers.SerializerMethodField()

    class Meta:
        model = Node
        fields = ["id", "url", "kind", "source", "source_id", "namespace", "name", "display_name", "properties",
                  "first_seen", "last_seen", "recorded_at", "archived", "archived_at", "raw", "raw_url"]
        read_only_fields = fields

    def get_archived(self, node) -> bool:
        return node.archived_at is not None


class NodeSummarySerializer(NodeSerializer):
    """A node in a list: everything but its properties, whose size the producer decides (a Spark event's
    schema and column-lineage facets run to megabytes). The detail, or a list with `?expand=properties`,
    carries them. (No "has properties" flag either: on PostgreSQL even comparing a large value with {}
    reads it whole from TOAST, which is the cost this avoids.)"""

    class Meta(NodeSerializer.Meta):
        fields = [f for f in NodeSerializer.Meta.fields if f != "properties"]
        read_only_fields = fields


class NodeRevisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = NodeRevision
        fields = ["id", "valid_from", "properties", "raw", "recorded_at"]
        read_only_fields = fields


class NodeDetailSerializer(NodeSerializer):
    """A node with its revision history and, with `?as_of=`, the properties it had then."""

    revisions = serializers.SerializerMethodField()
    as_of = serializers.SerializerMethodField()
    properties_as_of = serializers.SerializerMethodField()

    class Meta(NodeSerializer.Meta):
        fields = NodeSerializer.Meta.fields + ["revisions", "as_of", "properties_as_of"]
        read_only_fields = fields

    def _as_of(self):
        return self.context.get("as_of")

    @extend_schema_field(NodeRevisionSerializer(many=True))
    def get_revisions(self, node):
        revisions = node.revisions.order_by("valid_from", "id")
        return NodeRevisionSerializer(revisions, many=True).data

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_as_of(self, node):
        value = self._as_of()
        return serializers.DateTimeField().to_representation(value) if value else None

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_properties_as_of(self, node):
        """The latest revision valid at `as_of` (null when the node had none yet, or without `as_of`)."""
        value = self._as_of()
        if value is None:
            return None
        revision = node.revisions.filter(valid_from__lte=value).order_by("-valid_from", "-id").first()
        return revision.properties if revision is not None else None


class EdgeSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="edge-detail")
    raw_url = serializers.HyperlinkedRelatedField(source="raw", view_name="rawrecord-detail", read_only=True,
                                                  allow_null=True)
    open = serializers.SerializerMethodField()

    class Meta:
        model = Edge
        fields = ["id", "url", "kind", "src", "dst", "source", "valid_from", "valid_to", "open", "last_seen",
                  "properties", "recorded_at", "raw", "raw_url"]
        read_only_fields = fields

    def get_open(self, edge) -> bool:
        return edge.valid_to is None


class EdgeSummarySerializer(EdgeSerializer):
    """An edge in a list, without its properties (see NodeSummarySerializer)."""

    class Meta(EdgeSerializer.Meta):
        fields = [f for f in EdgeSerializer.Meta.fields if f != "properties"]
        read_only_fields = fields


class GraphEdgeSerializer(serializers.ModelSerializer):
    """An edge inside a graph answer (no hyperlinks: a graph may hold thousands of them)."""

    class Meta:
        model = Edge
        fields = ["id", "kind", "src", "dst", "source", "valid_from", "valid_to", "raw"]
        read_only_fields = fields


class GraphNodeSerializer(serializers.ModelSerializer):
    depth = serializers.SerializerMethodField(help_text="Hops from the nearest start node")

    class Meta:
        model = Node
        fields = ["id", "kind", "source", "source_id", "namespace", "name", "display_name", "first_seen",
                  "last_seen", "depth", "raw"]
        read_only_fields = fields

    def get_depth(self, node) -> int:
        return self.context.get("depth_of", {}).get(node.pk, 0)


class _CommaList(serializers.ListField):
    """`?node_kinds=job,run` or repeated `?node_kinds=job&node_kinds=run`."""

    def get_value(self, dictionary):
        if self.field_name not in dictionary:
            return serializers.empty
        raw = dictionary.getlist(self.field_name) if hasattr(dictionary, "getlist") else [dictionary[self.field_name]]
        return [part.strip() for item in raw for part in str(item).split(",") if part.strip()]


class LineageQuerySerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=graph.DIRECTIONS, default="both")
    depth = serializers.IntegerField(min_value=0, max_value=graph.MAX_DEPTH, default=3)
    as_of = serializers.DateTimeField(required=False, help_text="ISO 8601; the graph as it held at that time")
    node_kinds = _CommaList(child=serializers.ChoiceField(choices=NodeKind.choices), required=False,
                            help_text="Only return these kinds (the walk still passes through others)")
    edge_kinds = _CommaList(child=serializers.ChoiceField(choices=EdgeKind.choices), required=False,
                            help_text="Only walk these edge kinds")
    max_nodes = serializers.IntegerField(min_value=1, max_value=graph.MAX_NODES, default=1000)


class LineageSerializer(serializers.Serializer):
    start = serializers.IntegerField()
    direction = serializers.CharField()
    depth = serializers.IntegerField()
    as_of = serializers.DateTimeField(allow_null=True)
    truncated = serializers.BooleanField(help_text="More nodes were reachable than max_nodes")
    nodes = GraphNodeSerializer(many=True)
    edges = GraphEdgeSerializer(many=True)


class PathQuerySerializer(serializers.Serializer):
    to = serializers.IntegerField(help_text="The other node's id")
    max_depth = serializers.IntegerField(min_value=0, max_value=graph.MAX_DEPTH, default=10)
    as_of = serializers.DateTimeField(required=False)
    edge_kinds = _CommaList(child=serializers.ChoiceField(choices=EdgeKind.choices), required=False)


class PathSerializer(serializers.Serializer):
    found = serializers.BooleanField()
    direction = serializers.CharField(allow_null=True, help_text="downstream: `to` is downstream of this node")
    length = serializers.IntegerField(allow_null=True)
    nodes = GraphNodeSerializer(many=True)
    edges = GraphEdgeSerializer(many=True)
