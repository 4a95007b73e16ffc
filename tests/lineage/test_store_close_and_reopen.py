"""An edge closed and stated again in ONE store.apply call: the closed row keeps its valid_to, and a new
open row starts at the restatement (as two calls would leave them). Before, the call inserted the new open
row ahead of writing the old one's valid_to, and the open-edge unique index refused it."""
from __future__ import annotations

import datetime as dt

import pytest

from lineage import store
from lineage.models import Edge
from lineage.store import EdgeClose, EdgeFact, NodeFact, NodeKey

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
A, B = NodeKey("manual", "dataset", "a"), NodeKey("manual", "dataset", "b")


def _rows():
    return list(Edge.objects.order_by("valid_from").values_list("valid_from", "valid_to", "last_seen", "properties"))


@pytest.mark.django_db
def test_an_open_edge_closed_and_stated_again_in_one_call():
    store.apply([NodeFact(A, name="a", seen_at=T0), NodeFact(B, name="b", seen_at=T0),
                 EdgeFact("produced", A, B, "manual", valid_from=T0, properties={"n": 1})])
    t1, t2 = T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=2)
    result = store.apply([EdgeClose("produced", A, B, at=t1),
                          EdgeFact("produced", A, B, "manual", valid_from=t2, properties={"n": 2})])
    assert (result.edges_closed, result.edges_created) == (1, 1)
    assert _rows() == [(T0, t1, T0, {"n": 1}), (t2, None, t2, {"n": 2})]


@pytest.mark.django_db
def test_an_edge_stated_closed_and_stated_again_in_one_call():
    t1, t2 = T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=2)
    result = store.apply([EdgeFact("produced", A, B, "manual", valid_from=T0),
                          EdgeClose("produced", A, B, at=t1),
                          EdgeFact("produced", A, B, "manual", valid_from=t2),
                          EdgeClose("produced", A, B, at=t2 + dt.timedelta(hours=1)),
                          EdgeFact("produced", A, B, "manual", valid_from=t2 + dt.timedelta(hours=2))])
    assert (result.edges_created, result.edges_closed) == (3, 2)
    assert [(f, t) for f, t, _, _ in _rows()] == [(T0, t1), (t2, t2 + dt.timedelta(hours=1)),
                                                  (t2 + dt.timedelta(hours=2), None)]
