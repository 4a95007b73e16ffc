"""Concurrent writers, each on its own database connection, still produce one gapless, valid chain."""
import threading

import pytest
from django.db import connections

from common.audit import context
from governance.audit import recorder
from governance.audit.models import AuditCheckpoint, AuditEntry
from governance.audit.verify import verify_chain

THREADS = 6
PER_THREAD = 25


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_threads_on_their_own_connections_keep_one_chain(settings):
    settings.AUDIT_CHECKPOINT_EVERY = 17
    start = threading.Barrier(THREADS)
    errors, backends = [], set()

    def writer(n):
        try:
            with context.acting_as(context.AuditContext(username=f"writer-{n}", request_id=f"req-{n}")):
                start.wait()
                with connections["default"].cursor() as cur:
                    cur.execute("SELECT pg_backend_pid()")
                    backends.add(cur.fetchone()[0])
                for i in range(PER_THREAD):
                    if i % 5 == 4:
                        recorder.record_many([{"action": "thing.bulk", "object_type": "thing", "object_id": f"{n}-{i}-{k}"} for k in range(3)])
                    else:
                        recorder.record("thing.update", "thing", f"{n}-{i}", after={"i": i})
                    if n == 0 and i == PER_THREAD // 2:
                        recorder.checkpoint(reason="on demand, mid-stream")
        except Exception as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(backends) == THREADS, "each thread must have had its own server connection"

    per_thread = (PER_THREAD - PER_THREAD // 5) + 3 * (PER_THREAD // 5)
    written = AuditEntry.objects.exclude(action="audit.checkpoint").count()
    assert written == THREADS * per_thread
    seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1)), "seqs must be gapless"
    # Every writer's entries interleave in one line: each entry links to the one before it.
    assert AuditEntry.objects.values("request_id").distinct().count() == THREADS
    assert AuditCheckpoint.objects.count() >= len(seqs) // 17
    result = verify_chain()
    assert result.ok, result.first_break
    assert result.verified_to == len(seqs)
    assert result.checkpoints_verified == AuditCheckpoint.objects.count()
