"""The provenance card reads its walks through lineage.graph.lineage()'s light rows (properties only of the
nodes it shows, no edges where it reads none) and is written by orjson; on random graphs with awkward contents
it must equal the card built from the previous lineage() (model instances with every column, edges always)
and rendered by DRF, with and without `as_of`, on both databases."""
import json

import orjson
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, given, settings, strategies as st
from rest_framework.renderers import JSONRenderer

from governance.provenance import card as cards
from lineage import graph
from lineage.models import Node
from tests.conftest import client_for, make_user
from tests.support.lineage_bodies import JSON_VALUES, MICROS, OFFSETS, TEXT, at, graphs, load, previous_lineage


@st.composite
def model_version_graphs(draw):
    """A random graph plus a model version produced by some of its runs (and read by none), with a model it
    is a version of, a deployment and a metrics artefact, so that every section of the card has rows."""
    nodes, edges = draw(graphs())
    extra = {"model_version": len(nodes), "model": len(nodes) + 1, "deployment": len(nodes) + 2,
             "metrics": len(nodes) + 3}
    for kind in extra:
        nodes.append({"kind": kind, "seen": at(draw(st.integers(0, 3)), draw(MICROS)), "name": draw(TEXT),
                      "namespace": draw(TEXT), "display_name": draw(TEXT),
                      "properties": draw(st.dictionaries(st.sampled_from(["version", "uri", "digest", "state", "url",
                                                                          "metrics", "run_id", "created"]),
                                                         JSON_VALUES, max_size=3)),
                      "raw": None})
    runs = [i for i, n in enumerate(nodes) if n["kind"] == "run"]
    links = [(r, extra["model_version"], "produced") for r in draw(st.lists(st.sampled_from(runs), unique=True))] if runs else []
    links += [(r, extra["metrics"], "produced") for r in draw(st.lists(st.sampled_from(runs), max_size=2, unique=True))] if runs else []
    links += [(extra["model_version"], extra["model"], "version_of"),
              (extra["model_version"], extra["deployment"], "deployed_as")]
    for src, dst, kind in links:
        edges.append({"src": src, "dst": dst, "kind": kind, "from": at(draw(st.integers(0, 5))), "to": None,
                      "properties": {}, "raw": None})
    return nodes, edges, extra["model_version"]


def previous(start_ids, **options):
    options.pop("properties", None)
    options.pop("edges", None)
    options = {"node_kinds": None, "edge_kinds": None, "max_nodes": 1000, "depth": 10, "as_of": None, **options}
    return previous_lineage(start_ids, **options)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(model_version_graphs(), st.data())
def test_card_equals_the_one_built_from_model_instances(db, monkeypatch, g, data):
    nodes, edges, version = g
    ids = load(nodes, edges)
    # The examples share one database (the test's): the reader is made once.
    user = get_user_model().objects.filter(username="card-reader").first() or make_user("card-reader", "auditor")
    node = Node.objects.get(pk=ids[version])
    depth = data.draw(st.integers(0, 4))
    as_of = None
    if data.draw(st.booleans()):
        as_of = at(data.draw(st.integers(3, 9)), data.draw(MICROS)).astimezone(data.draw(st.sampled_from(OFFSETS)))

    def card(render):
        try:
            return json.loads(render(cards.Card(node, user, depth=depth, as_of=as_of).build()))
        except cards.NotAModelVersion as refused:  # `as_of` before the version existed: both refuse alike
            return str(refused)

    new = card(lambda body: orjson.dumps(body, option=orjson.OPT_UTC_Z))
    with monkeypatch.context() as patched:
        patched.setattr(graph, "lineage", previous)
        old = card(JSONRenderer().render)
    assert new == old


def test_the_endpoint_serves_the_card_as_drf_renders_it(db):
    nodes = [{"kind": kind, "seen": at(0), "name": f"n{i}", "namespace": "ns", "display_name": "", "raw": None,
              "properties": {"uri": "s3://b/k", "version": 2, "state": "ACTIVE"}}
             for i, kind in enumerate(["dataset", "run", "model_version", "deployment"])]
    edges = [{"src": 0, "dst": 1, "kind": "consumed", "from": at(1), "to": None, "properties": {}, "raw": None},
             {"src": 1, "dst": 2, "kind": "produced", "from": at(1), "to": None, "properties": {}, "raw": None},
             {"src": 2, "dst": 3, "kind": "deployed_as", "from": at(2), "to": None, "properties": {}, "raw": None}]
    ids = load(nodes, edges)
    user = make_user("reader", "auditor")
    response = client_for(user).get(f"/api/model-versions/{ids[2]}/provenance/")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    card = cards.provenance_card(ids[2], user)
    assert response.json() == json.loads(JSONRenderer().render(card))
    assert [d["id"] for d in card["input_data"]] == [ids[0]] and card["deployments"][0]["id"] == ids[3]
