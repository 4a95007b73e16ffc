"""The shapes of the provenance card and of a registry row, for the OpenAPI schema and the query parameters.

The card is assembled as plain data (governance.provenance.card) and served as is; these serializers
describe it (tests/test_provenance_api_schema.py checks that every key the card answers is documented here
and the other way round).
"""
from __future__ import annotations

from rest_framework import serializers

from lineage import graph
from governance.provenance.card import DEFAULT_DEPTH


class CardQuerySerializer(serializers.Serializer):
    depth = serializers.IntegerField(min_value=1, max_value=graph.MAX_DEPTH, default=DEFAULT_DEPTH,
                                     help_text="How far upstream input data is followed (hops)")
    as_of = serializers.DateTimeField(required=False, help_text="ISO 8601: the card as the store and governance "
                                                                "knew it at that time")


class CardLinkSerializer(serializers.Serializer):
    label = serializers.CharField()
    url = serializers.URLField()


class CardNodeRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    source = serializers.CharField(help_text="kubeflow, viya, openlineage or manual")
    source_id = serializers.CharField(help_text="The source's own id")
    namespace = serializers.CharField()
    name = serializers.CharField()
    display_name = serializers.CharField()


class CardVersionSerializer(CardNodeRefSerializer):
    version = serializers.CharField(allow_null=True)
    created = serializers.CharField(allow_null=True)
    modified = serializers.CharField(allow_null=True)
    owner = serializers.CharField(allow_null=True, help_text="Modeler, creator or owning team, as the source names it")
    links = CardLinkSerializer(many=True, help_text="Back to the source's own user interface, where known")


class CardModelSerializer(CardNodeRefSerializer):
    links = CardLinkSerializer(many=True)


class CardParameterSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.JSONField()
    origin = serializers.CharField(help_text="Where the source records it (KFP runtime parameters, ML Metadata "
                                             "execution inputs, an OpenLineage facet)")


class CardRunParameterSerializer(CardParameterSerializer):
    run = serializers.IntegerField()


class CardCodeVersionSerializer(serializers.Serializer):
    label = serializers.CharField()
    value = serializers.JSONField()
    node = serializers.IntegerField(help_text="The node that records it")
    node_name = serializers.CharField()


class CardMetricSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.JSONField()
    node = serializers.IntegerField(help_text="The metrics artefact or model version that carries it")
    node_name = serializers.CharField()


class CardRunSerializer(CardNodeRefSerializer):
    role = serializers.ChoiceField(choices=["producer", "parent"],
                                   help_text="producer: produced the version; parent: the pipeline run above it")
    parent = serializers.IntegerField(allow_null=True)
    run_id = serializers.CharField()
    job = CardNodeRefSerializer(allow_null=True)
    job_version = CardNodeRefSerializer(allow_null=True)
    started_at = serializers.CharField(allow_null=True)
    ended_at = serializers.CharField(allow_null=True)
    status = serializers.CharField(allow_null=True)
    started_by = serializers.CharField(allow_null=True)
    parameters = CardParameterSerializer(many=True)
    code_version = CardCodeVersionSerializer(many=True)
    links = CardLinkSerializer(many=True)


class CardDataSerializer(CardNodeRefSerializer):
    depth = serializers.IntegerField(allow_null=True, help_text="Hops upstream of the version")
    uri = serializers.CharField(allow_null=True)
    version = serializers.JSONField(allow_null=True)
    digest = serializers.CharField(allow_null=True)
    links = CardLinkSerializer(many=True)


class CardDeploymentSerializer(CardNodeRefSerializer):
    state = serializers.CharField(allow_null=True)
    destination = serializers.CharField(allow_null=True)
    since = serializers.CharField(allow_null=True)
    links = CardLinkSerializer(many=True)


class CardDecisionSerializer(serializers.Serializer):
    actor = serializers.CharField()
    decision = serializers.ChoiceField(choices=["approve", "reject"])
    comment = serializers.CharField(allow_blank=True)
    at = serializers.CharField()


class CardApprovalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    target_stage = serializers.CharField()
    from_stage = serializers.CharField(allow_null=True)
    state = serializers.CharField()
    requester = serializers.CharField()
    justification = serializers.CharField()
    created_at = serializers.CharField()
    submitted_at = serializers.CharField(allow_null=True)
    decided_at = serializers.CharField(allow_null=True)
    executed_at = serializers.CharField(allow_null=True)
    required_approvals = serializers.IntegerField()
    approvals = serializers.IntegerField()
    decisions = CardDecisionSerializer(many=True)
    open = serializers.BooleanField()


class CardStageHistorySerializer(serializers.Serializer):
    stage = serializers.CharField()
    from_stage = serializers.CharField(allow_null=True)
    assigned_at = serializers.CharField()
    superseded_at = serializers.CharField(allow_null=True)
    requested_by = serializers.CharField()
    approved_by = serializers.ListField(child=serializers.CharField())
    request = serializers.IntegerField()


class CardGateRowSerializer(serializers.Serializer):
    gate = serializers.CharField()
    passed = serializers.BooleanField()
    reason = serializers.CharField()
    overridden_by = serializers.CharField(allow_null=True)
    override_reason = serializers.CharField(allow_null=True)


class CardGatesSerializer(serializers.Serializer):
    request = serializers.IntegerField(allow_null=True, help_text="The latest request, whose gates these are")
    evaluated_at = serializers.CharField(allow_null=True)
    results = CardGateRowSerializer(many=True)


class CardBundleRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    node = serializers.IntegerField(allow_null=True)
    subject_name = serializers.CharField(allow_blank=True)
    subject_kind = serializers.CharField()
    depth = serializers.IntegerField()
    node_count = serializers.IntegerField()
    created_at = serializers.CharField()
    created_by = serializers.CharField(allow_null=True)
    download_url = serializers.CharField()


class CardEvidenceSerializer(serializers.Serializer):
    bundles = CardBundleRefSerializer(many=True, help_text="The bundles the caller may see")
    hidden_count = serializers.IntegerField(help_text="Bundles of this version the caller may not see")
    total = serializers.IntegerField()


class CardChainSerializer(serializers.Serializer):
    data = serializers.ListField(child=serializers.IntegerField())
    runs = serializers.ListField(child=serializers.IntegerField())
    model_version = serializers.IntegerField()
    approvals = serializers.ListField(child=serializers.IntegerField(), help_text="Promotion request ids")
    deployments = serializers.ListField(child=serializers.IntegerField())


class ProvenanceCardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    as_of = serializers.CharField(allow_null=True)
    depth = serializers.IntegerField()
    model_version = CardVersionSerializer()
    identities = CardVersionSerializer(many=True, help_text="This version and every node same_as makes it equal to, "
                                                        "across platforms")
    models = CardModelSerializer(many=True)
    runs = CardRunSerializer(many=True, help_text="Producing runs, then the runs above them")
    parameters = CardRunParameterSerializer(many=True)
    code_version = CardCodeVersionSerializer(many=True)
    metrics = CardMetricSerializer(many=True)
    input_data = CardDataSerializer(many=True)
    input_truncated = serializers.BooleanField()
    deployments = CardDeploymentSerializer(many=True)
    stage = serializers.CharField(allow_null=True)
    approvals = CardApprovalSerializer(many=True)
    stage_history = CardStageHistorySerializer(many=True)
    gates = CardGatesSerializer()
    evidence = CardEvidenceSerializer()
    chain = CardChainSerializer(help_text="Ids along data → run → model → approvals → deployments")


class RegistryRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    source = serializers.CharField()
    source_id = serializers.CharField()
    namespace = serializers.CharField()
    name = serializers.CharField()
    display_name = serializers.CharField()
    label = serializers.CharField()
    model_name = serializers.CharField(allow_null=True, help_text="The model this version is a version of")
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()
    stage = serializers.CharField(allow_null=True)
    stage_since = serializers.DateTimeField(allow_null=True)
    open_request = serializers.IntegerField(allow_null=True)
    open_request_state = serializers.CharField(allow_null=True)
    open_request_stage = serializers.CharField(allow_null=True)
    last_decision = serializers.CharField(allow_null=True)
    last_decision_by = serializers.CharField(allow_null=True)
    last_decision_at = serializers.DateTimeField(allow_null=True)
    gates_failing = serializers.IntegerField(allow_null=True)
    gates_evaluated = serializers.IntegerField(allow_null=True)
    gate_status = serializers.CharField(allow_null=True)
    has_evidence = serializers.BooleanField()
    producer = serializers.CharField(allow_null=True, help_text="Pipeline or job of the producing run")
    card_url = serializers.CharField()


class RegistryPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    results = RegistryRowSerializer(many=True)


class RegistryPageQuerySerializer(serializers.Serializer):
    offset = serializers.IntegerField(min_value=0, max_value=2 ** 31 - 1, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)
