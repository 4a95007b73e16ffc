"""On PostgreSQL the lineage answer runs as a prepared statement of the connection: prepared once per
statement shape, reused by later calls (same answers), prepared afresh on a new connection, and still there
after a rolled-back transaction."""
import pytest
from django.db import connection, transaction

from lineage import graph, graph_answer
from tests.support.graphs import CHAIN, CHAIN_EDGES, build

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def prepared() -> set[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE 'll_lineage_answer_%%'")
        return {row[0] for row in cur.fetchall()}


def answer(result) -> tuple:
    return [tuple(n) for n in result.nodes], [tuple(e) for e in result.edges], result.depth_of, result.truncated


def test_the_answer_statement_is_prepared_once_and_reused():
    ids = build(CHAIN, CHAIN_EDGES)
    connection.close()
    first = graph.lineage([ids["d"]], direction="upstream", depth=10)
    names = prepared()
    assert len(names) == 1
    again = [graph.lineage([ids[k]], direction="upstream", depth=10) for k in ("d", "c", "e")]
    assert prepared() == names and answer(again[0]) == answer(first)
    assert graph_answer.body(ids["d"], direction="upstream", depth=10) is not None  # another shape: text times
    assert len(prepared()) == 2
    with pytest.raises(RuntimeError), transaction.atomic():
        graph.lineage([ids["d"]], direction="downstream", depth=10)  # prepared inside, then rolled back
        raise RuntimeError
    assert len(prepared()) == 3
    # Still prepared after the rollback: executed by name (it would fail if the cache were wrong).
    assert graph.lineage([ids["d"]], direction="downstream", depth=10).nodes[0].pk == ids["d"]
    connection.close()  # a new connection knows none of them: prepared again
    assert answer(graph.lineage([ids["d"]], direction="upstream", depth=10)) == answer(first)
    assert len(prepared()) == 1


def test_a_statement_discarded_under_the_connection_fails_once_then_is_prepared_again():
    from django.db import DatabaseError

    ids = build(CHAIN, CHAIN_EDGES)
    connection.close()
    first = graph.lineage([ids["d"]], direction="upstream", depth=10)
    with connection.cursor() as cur:
        cur.execute("DEALLOCATE ALL")  # what DISCARD ALL or a pooler's reset does
    with pytest.raises(DatabaseError):
        graph.lineage([ids["d"]], direction="upstream", depth=10)
    assert answer(graph.lineage([ids["d"]], direction="upstream", depth=10)) == answer(first)
    assert len(prepared()) == 1
