"""Two harvest partitions writing the same node at once (a run both a runs partition and the ML Metadata
partition describe): the one that loses the race for the insert retries and refreshes the row instead of
failing the harvest, and the store holds the node once. PostgreSQL: real row locks between two connections."""
import threading

import pytest
from django.db import connection, connections

from connectors import tasks
from lineage import store
from lineage.kinds import NodeKind
from lineage.models import Node

pytestmark = pytest.mark.postgres_only


def test_a_partition_that_loses_an_insert_race_retries_and_stores_once(transactional_db):
    key = store.NodeKey("kubeflow", NodeKind.RUN, "race/run/1")
    first_wrote, release = threading.Event(), threading.Event()
    attempts = {"first": 0, "second": 0}
    errors = []

    def first():
        def write():
            attempts["first"] += 1
            result = store.apply([store.NodeFact(key=key, name="run-1", properties={"from": "runs"})])
            first_wrote.set()
            assert release.wait(20)  # hold the uncommitted insert until the other writer is blocked on it
            return result
        try:
            tasks._atomically(write)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def second():
        def write():
            attempts["second"] += 1
            return store.apply([store.NodeFact(key=key, name="run-1", properties={"from": "runs"})])
        try:
            assert first_wrote.wait(20)
            tasks._atomically(write)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    # Release the first writer only once the second is blocked on its uncommitted row (no sleeps that guess).
    assert first_wrote.wait(20)
    with connection.cursor() as cur:
        for _ in range(400):
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()")
            if cur.fetchone()[0]:
                break
            threading.Event().wait(0.05)
        else:
            pytest.fail("the second writer never blocked on the first one's row")
    release.set()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert attempts == {"first": 1, "second": 2}  # the loser's insert failed once, then it refreshed the row
    assert Node.objects.filter(source="kubeflow", kind=NodeKind.RUN, source_id="race/run/1").count() == 1
