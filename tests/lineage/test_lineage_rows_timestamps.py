"""lineage() rows read their timestamps from PostgreSQL's text of them only when an attribute is read
(lineage.graph_answer._timestamp): every first_seen / last_seen / valid_from / valid_to must be the very value
the driver gives through the ORM (same instant, same microseconds, tzinfo datetime.timezone.utc, a datetime
and not text), on random graphs with microsecond edge cases, and for years and fractions psycopg2 writes
out differently (year 5, ".5", ".000010"). On SQLite the rows carry datetimes already; same comparison."""
import datetime as dt

from hypothesis import HealthCheck, given, settings, strategies as st

from lineage import graph
from lineage.models import Edge, Node
from tests.support.lineage_bodies import graphs, load

NODE_TIMES = ("first_seen", "last_seen")
EDGE_TIMES = ("valid_from", "valid_to")


def assert_same_times(result):
    by_node = {n.pk: n for n in Node.objects.filter(pk__in=[n.pk for n in result.nodes])}
    by_edge = {e.pk: e for e in Edge.objects.filter(pk__in=[e.pk for e in result.edges])}
    assert len(by_node) == len(result.nodes) and len(by_edge) == len(result.edges)
    for rows, models, names in ((result.nodes, by_node, NODE_TIMES), (result.edges, by_edge, EDGE_TIMES)):
        for row in rows:
            for name in names:
                got, want = getattr(row, name), getattr(models[row.pk], name)
                assert got == want, (name, got, want)
                if want is None:
                    assert got is None
                else:
                    assert type(got) is dt.datetime and got.tzinfo is dt.timezone.utc
                    assert got.utcoffset() == dt.timedelta(0) and got.microsecond == want.microsecond


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graphs(), st.data())
def test_row_timestamps_equal_the_drivers_on_random_graphs(db, g, data):
    nodes, edges = g
    ids = load(nodes, edges)
    start = ids[data.draw(st.integers(0, len(ids) - 1))]
    result = graph.lineage([start], direction=data.draw(st.sampled_from(graph.DIRECTIONS)), depth=4, max_nodes=50)
    assert_same_times(result)


def test_row_timestamps_of_awkward_years_and_fractions(db):
    utc = dt.timezone.utc
    first = [dt.datetime(5, 3, 4, 1, 2, 3, 10, tzinfo=utc), dt.datetime(2024, 1, 1, 0, 0, 0, 500_000, tzinfo=utc),
             dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
             dt.datetime(2023, 2, 3, 4, 5, 6, 120_000, tzinfo=utc)]
    last = dt.datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=utc)
    made = [Node.objects.create(kind="dataset", source="t", source_id=f"d{i}", name=f"d{i}", first_seen=t,
                                last_seen=last if i % 2 else t) for i, t in enumerate(first)]
    for i, (a, b) in enumerate(zip(made, made[1:])):
        # Closed edges (valid_to far ahead) hold at as_of below, so the walk follows them too.
        Edge.objects.create(kind="consumed", src=a, dst=b, source="t", valid_from=a.first_seen,
                            valid_to=None if i == 0 else last - dt.timedelta(microseconds=i * 10), last_seen=last)
    result = graph.lineage([made[0].pk], direction="downstream", depth=5,
                           as_of=dt.datetime(2025, 1, 1, tzinfo=utc))
    assert len(result.nodes) == len(made) and len(result.edges) == len(made) - 1
    assert any(e.valid_to is not None for e in result.edges)
    assert_same_times(result)
