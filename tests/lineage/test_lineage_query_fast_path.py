"""The lineage endpoint reads plain query strings without LineageQuerySerializer (lineage.api.views.
plain_lineage_query): whatever it accepts, it must read exactly as the serializer does, and anything it does
not take goes to the serializer (same 400s as before). Random query strings mix plain and awkward spellings
(signs, spaces, decimals, out-of-range values, empty and repeated parameters, unknown kinds, `as_of`)."""
from urllib.parse import urlencode

from django.http import QueryDict
from hypothesis import given, settings, strategies as st

from lineage.api import serializers as s
from lineage.api import views
from lineage.kinds import EdgeKind, NodeKind
from tests.conftest import client_for, make_user

NUMBERS = st.sampled_from(["0", "1", "3", "10", "010", "50", "51", "1000", "10000", "10001", "-1", "+3", " 3", "3 ",
                           "3.0", "3.5", "", "x", "1e2", "٣", "999999999", "0000000000003"])
DIRECTIONS = st.sampled_from(["upstream", "downstream", "both", "Both", "", " upstream", "sideways"])
KINDS = st.sampled_from(list(NodeKind.values) + list(EdgeKind.values) + ["", " ", "nope", "run ", ",", "job,,run"])


@st.composite
def queries(draw) -> QueryDict:
    pairs = []
    for name, values in (("direction", DIRECTIONS), ("depth", NUMBERS), ("max_nodes", NUMBERS),
                         ("node_kinds", KINDS), ("edge_kinds", KINDS)):
        for _ in range(draw(st.integers(0, 2))):  # absent, once, or repeated
            if name.endswith("kinds"):
                pairs.append((name, ",".join(draw(st.lists(values, min_size=0, max_size=3)))))
            else:
                pairs.append((name, draw(values)))
    if draw(st.integers(0, 5)) == 0:
        pairs.append(("as_of", "2024-01-01T00:00:00Z"))
    if draw(st.booleans()):
        pairs.append(("format", "json"))  # DRF's own parameter, not the serializer's
    draw(st.randoms()).shuffle(pairs)
    return QueryDict(urlencode(pairs))


@settings(max_examples=600, deadline=None)
@given(queries())
def test_plain_query_reads_as_the_serializer_does(params):
    fast = views.plain_lineage_query(params)
    checked = s.LineageQuerySerializer(data=params)
    valid = checked.is_valid()
    if fast is not None:
        assert valid, (params, checked.errors)
        assert fast == dict(checked.validated_data)
        assert views._lineage_options(fast) == views._lineage_options(checked.validated_data)


def test_the_usual_queries_take_the_plain_path():
    for query in ("", "direction=upstream&depth=10&max_nodes=10000&edge_kinds=consumed%2Cproduced",
                  "direction=downstream&node_kinds=job&node_kinds=run", "depth=0&max_nodes=1"):
        assert views.plain_lineage_query(QueryDict(query)) is not None, query
    for query in ("as_of=2024-01-01T00:00:00Z", "depth=51", "depth=-1", "max_nodes=0", "edge_kinds=nope",
                  "direction=sideways", "depth=3.0"):
        assert views.plain_lineage_query(QueryDict(query)) is None, query


def test_endpoint_answers_and_refuses_as_before(db):
    from lineage.models import Node
    from django.utils import timezone

    now = timezone.now()
    node = Node.objects.create(kind="dataset", source="t", source_id="d1", name="d1", first_seen=now, last_seen=now)
    client = client_for(make_user("reader", "auditor"))
    plain = client.get(f"/api/nodes/{node.pk}/lineage/?direction=upstream&depth=010&edge_kinds=consumed")
    assert plain.status_code == 200
    assert plain.json()["depth"] == 10 and plain.json()["direction"] == "upstream"
    bad = client.get(f"/api/nodes/{node.pk}/lineage/?depth=51")
    assert bad.status_code == 400 and "depth" in str(bad.json())
    assert client.get(f"/api/nodes/{node.pk + 1000}/lineage/?depth=51").status_code == 404
    unknown_kind = client.get(f"/api/nodes/{node.pk}/lineage/?edge_kinds=nope")
    assert unknown_kind.status_code == 400 and "edge_kinds" in str(unknown_kind.json())
