"""Single POSTs that arrive while their process is writing share the next transaction (group commit), and
each event still keeps what a single POST promises: stored once, its own IngestedEvent row and audit entry
with its own actor and request id, answered only after its group commits, refused alone when it is bad.

The live server runs requests in threads of this process, so the test can hold the first writer inside
its transaction (another connection holds the audit chain's lock) until the next requests have queued
behind it, then let go: the queued requests must then be written in ONE transaction (PostgreSQL's xmin of
their rows). PostgreSQL only, as tests/test_ingest_concurrency.py: the live server's threads would share
one in-memory SQLite connection. GroupCommitter's hand-over itself is tested on both databases below."""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
import requests
from django.db import connection

from governance.audit.models import AuditEntry
from governance.audit.recorder import ADVISORY_LOCK_KEY
from governance.audit.verify import verify_chain
from lineage.ingest import service
from lineage.ingest.group_commit import GroupCommitter
from lineage.ingest.models import IngestedEvent
from lineage.models import Node, RawRecord
from tests.conftest import make_user

# Concurrent writers in one process need PostgreSQL (the live server's threads share one SQLite connection).
postgres_only = pytest.mark.postgres_only


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _event(i: int, description: str = "plain", job: str = "") -> dict:
    return {
        "eventType": "COMPLETE", "eventTime": f"2024-10-01T00:00:{i:02d}Z", "producer": "https://example.com/g",
        "run": {"runId": f"0000000{i % 10}-aaaa-4bbb-8ccc-{i:012d}"},
        "job": {"namespace": "grouped", "name": job or f"job-{i}",
                "facets": {"documentation": {"_producer": "https://p", "_schemaURL": "https://s",
                                             "description": description}}},
        "inputs": [{"namespace": "db", "name": "shared_input"}],
        "outputs": [{"namespace": "db", "name": f"out-{i}"}],
    }


class _ChainLockHeld:
    """The audit chain's advisory lock held by another connection: a writer that reaches it waits there,
    inside its transaction, until `release()`."""

    def __init__(self):
        s = connection.settings_dict
        self.conn = psycopg2.connect(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432,
                                     user=s["USER"] or "postgres", dbname=s["NAME"])
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])

    def release(self):
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
        self.conn.close()


def _wait_for(condition, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _waiting_for_chain_lock() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cur.fetchone()[0]


def _post_queued_behind_a_held_writer(live_server, posts: list[tuple[str, dict, str]], refused_up_front=frozenset()):
    """posts: (token, event, request id). The first is posted alone and held inside its transaction; the
    others are posted once it waits there, and released once all of them have queued behind it (but those
    at the indexes `refused_up_front`, answered before they could join a group)."""
    url = live_server.url + "/api/v1/lineage"

    def post(item):
        token, event, request_id = item
        return requests.post(url, data=json.dumps(event), timeout=60, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json", "X-Request-ID": request_id})

    lock = _ChainLockHeld()
    try:
        with ThreadPoolExecutor(max_workers=len(posts)) as pool:
            first = pool.submit(post, posts[0])
            _wait_for(lambda: _waiting_for_chain_lock() == 1, "the first writer to wait for the chain lock")
            rest = [pool.submit(post, item) for item in posts[1:]]
            queued = len(posts) - 1 - len(refused_up_front)
            _wait_for(lambda: len(service._GROUPS._queue) == queued, "the other requests to queue")
            assert not first.done() and not any(f.done() for i, f in enumerate(rest, 1) if i not in refused_up_front), \
                "answered before its group committed"
            lock.release()
            lock = None
            return [first.result()] + [f.result() for f in rest]
    finally:
        if lock is not None:
            lock.release()


@postgres_only
def test_requests_queued_behind_a_writer_are_written_in_one_transaction(live_server, transactional_db):
    alice, bob = make_user("alice", "engineer"), make_user("bob", "engineer")
    posts = [((alice if i % 2 else bob).auth_token.key, _event(i), f"req-group-{i}") for i in range(6)]
    posts.append((alice.auth_token.key, _event(3), "req-group-repeat"))  # a repeat inside the group

    responses = _post_queued_behind_a_held_writer(live_server, posts)

    assert [r.status_code for r in responses] == [201] * 7, [r.text for r in responses]
    statuses = [r.json()["status"] for r in responses]
    # The repeat and its original queued at the same time: whichever the group met first is the one created.
    assert statuses[:3] + statuses[4:6] == ["created"] * 5 and sorted([statuses[3], statuses[6]]) == ["created", "duplicate"]
    assert IngestedEvent.objects.count() == 6 and RawRecord.objects.count() == 6
    with connection.cursor() as cur:
        cur.execute(f"SELECT job_name, xmin::text FROM {IngestedEvent._meta.db_table}")
        xmin = dict(cur.fetchall())
    assert xmin["job-0"] not in {xmin[f"job-{i}"] for i in range(1, 6)}  # the held writer's own transaction
    assert len({xmin[f"job-{i}"] for i in range(1, 6)}) == 1  # the five queued behind it: one transaction
    by_request = {e.request_id: e for e in AuditEntry.objects.filter(action="ingest.event")}
    assert set(by_request) == {request_id for _token, _event_, request_id in posts}
    for i in range(6):
        entry = by_request[f"req-group-{i}"]
        assert entry.actor_username == ("alice" if i % 2 else "bob")
        assert entry.after["runId"] == _event(i)["run"]["runId"]
        assert entry.after["duplicate"] is (statuses[i] == "duplicate")
        assert entry.after.get("group", {}).get("events", 1) == (1 if i == 0 else 6)
    assert by_request["req-group-repeat"].after["duplicate"] is (statuses[6] == "duplicate")
    rows = {r.request_id: r for r in IngestedEvent.objects.all()}
    for i in range(6):
        # the row of whichever of the pair was created (a repeat's row is its original's)
        row = rows.get(f"req-group-{i}") or rows["req-group-repeat"]
        poster = alice if (i % 2 or row.request_id == "req-group-repeat") else bob
        assert (row.job_name, row.posted_by_id, row.posted_by_username) == (f"job-{i}", poster.pk, poster.username)
    assert Node.objects.filter(kind="dataset", source_id__endswith="shared_input").count() == 1
    assert verify_chain().ok


@postgres_only
@pytest.mark.parametrize("bad", [
    _event(2, description="nul \u0000 inside"),  # PostgreSQL's jsonb would refuse \u0000, SQLite keep it
    _event(2, job="job-\u0000-2"),  # psycopg2 would refuse a NUL in a text parameter
], ids=["nul-in-json", "nul-in-text"])
def test_an_event_no_database_may_store_is_refused_alone_and_the_rest_of_its_group_is_stored(
        live_server, transactional_db, bad):
    """Refused before it joins a group (lineage.ingest.service._checked_digest), the same on every database:
    the events posted with it are written together as if it had not been sent."""
    user = make_user("carol", "engineer")
    token = user.auth_token.key
    posts = [(token, _event(1), "req-a"), (token, bad, "req-bad"), (token, _event(3), "req-c"), (token, _event(4), "req-d")]

    responses = _post_queued_behind_a_held_writer(live_server, posts, refused_up_front={1})

    assert [r.status_code for r in responses] == [201, 422, 201, 201], [r.text for r in responses]
    assert responses[1].json()["error"] == "nul_character"
    assert sorted(IngestedEvent.objects.values_list("job_name", flat=True)) == ["job-1", "job-3", "job-4"]
    assert sorted(Node.objects.filter(kind="job").values_list("name", flat=True)) == ["job-1", "job-3", "job-4"]
    assert not RawRecord.objects.filter(source_id__contains="000000000002").exists()
    assert sorted(AuditEntry.objects.filter(action="ingest.event").values_list("request_id", flat=True)) == [
        "req-a", "req-c", "req-d"]
    assert verify_chain().ok


class _Item:
    def __init__(self, name):
        self.name, self.done, self.error = name, False, None


def _submit_behind_a_held_first_write(names: list[str], fail_if=lambda group: False):
    """Submit the first item alone and hold its write; submit the others once it is held, release it when
    all of them have queued. Returns (the committer, the items, the names of each write's group)."""
    groups: list[list[str]] = []
    first_started, let_first_finish = threading.Event(), threading.Event()

    def write(group):
        groups.append([item.name for item in group])
        if len(groups) == 1:
            first_started.set()
            assert let_first_finish.wait(10)
        if fail_if(group):
            raise RuntimeError("the database went away")

    committer = GroupCommitter(write)
    items = [_Item(name) for name in names]
    threads = [threading.Thread(target=committer.submit, args=(item,)) for item in items]
    threads[0].start()
    assert first_started.wait(10)
    for t in threads[1:]:
        t.start()
    _wait_for(lambda: len(committer._queue) == len(items) - 1, "the other items to queue")
    assert not any(item.done for item in items)
    let_first_finish.set()
    for t in threads:
        t.join(10)
    return committer, items, groups


def test_each_item_is_written_once_and_waiting_items_form_the_next_group():
    _committer, items, groups = _submit_behind_a_held_first_write([f"e{i}" for i in range(5)])
    assert len(groups) == 2 and groups[0] == ["e0"] and sorted(groups[1]) == ["e1", "e2", "e3", "e4"]
    assert all(item.done and item.error is None for item in items)


def test_a_failed_write_fails_every_item_of_its_group_and_no_other():
    committer, items, groups = _submit_behind_a_held_first_write(
        ["alone", "boom", "beside-1", "beside-2"], fail_if=lambda group: any(i.name == "boom" for i in group))
    assert groups[0] == ["alone"] and sorted(groups[1]) == ["beside-1", "beside-2", "boom"]
    assert items[0].error is None and all(item.done for item in items)
    assert all(isinstance(item.error, RuntimeError) for item in items[1:])
    after = _Item("after")
    committer.submit(after)  # the committer is free again
    assert after.done and after.error is None and groups[-1] == ["after"]
