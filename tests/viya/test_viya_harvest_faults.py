"""The same harvest with faults injected (5xx, timeouts, 429 Retry-After, truncated JSON, a token that
expires mid-way) ends identical to a clean one; a harvest killed half-way resumes to the same end."""
from __future__ import annotations

import pytest

from connectors.base import load_cursor, run_harvest
from connectors.models import Harvest, HarvestStatus
from devtools.viya.fake_server import FakeViya, FaultPlan
from devtools.viya.fake_state import ViyaState
from tests.support.viya import connector_for
from lineage.models import Edge, Node
from tests.conftest import shared_fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _picture():
    nodes = sorted((n.kind, n.source_id, n.name, repr(sorted(n.properties.items())))
                   for n in Node.objects.filter(source="viya"))
    edges = sorted((e.kind, e.src.source_id, e.dst.source_id, e.valid_to is None, repr(sorted(e.properties.items())))
                   for e in Edge.objects.select_related("src", "dst"))
    return nodes, edges


def _wipe():
    from connectors.models import HarvestCursor
    from lineage.models import NodeRevision

    Edge.objects.all().delete()
    NodeRevision.objects.all().delete()
    Node.objects.all().delete()
    HarvestCursor.objects.all().delete()


def test_faulty_harvest_ends_identical_to_a_clean_one():
    state = ViyaState.from_recordings(shared_fixture("viya", "viya_202310"))
    with FakeViya(state) as clean:
        assert run_harvest(connector_for(clean, batch=4)).status == HarvestStatus.SUCCEEDED
        # Keys carry the host:port, which differs per server; compare by what follows it.
        expected = _normalise(_picture(), clean.url)
        clean_gets = len([c for c in clean.calls if c.method == "GET"])
    _wipe()
    plan = FaultPlan(every=4, timeout_sleep=1.2)
    with FakeViya(state, faults=plan) as faulty:
        harvest = run_harvest(connector_for(faulty, batch=4, timeout=0.6))
        assert harvest.status == HarvestStatus.SUCCEEDED, harvest.error
        got = _normalise(_picture(), faulty.url)
        token_requests = len(faulty.calls_to("POST", "/SASLogon/oauth/token"))
        resource_gets = len([c for c in faulty.calls if c.method == "GET"])
    assert got == expected
    assert set(plan.injected) == {"500", "503", "timeout", "429", "truncate", "expire"}
    assert token_requests == 1 + plan.injected["expire"]  # a new token after each expiry, no more
    # Every fault cost one extra request (answered again after it), plus the 401s of requests in flight
    # when a token expired; nothing was skipped.
    assert resource_gets >= clean_gets + sum(plan.injected.values())


def _normalise(picture, url):
    host = url.split("://", 1)[1]
    return repr(picture).replace(host, "HOST")


def test_bad_password_is_a_clear_failed_harvest_without_the_secret():
    state = ViyaState.from_recordings(shared_fixture("viya", "viya_202310"))
    with FakeViya(state, users={"viya-user": "another-password"}) as fake:
        with pytest.raises(Exception) as err:
            run_harvest(connector_for(fake))
    harvest = Harvest.objects.get()
    assert harvest.status == HarvestStatus.FAILED
    assert "refused the credentials" in harvest.error
    assert "viya-password" not in harvest.error and "viya-password" not in str(err.value)


def test_unknown_host_is_a_clear_failed_harvest():
    from connectors.retry import RetryPolicy
    from connectors.viya import plugin

    connector = plugin.build({"url": "http://no-such-host.invalid:9", "username": "u"}, {"password": "p"},
                             policy=RetryPolicy(attempts=2, base_delay=0.01, jitter=False))
    with pytest.raises(Exception):
        run_harvest(connector)
    harvest = Harvest.objects.get()
    assert harvest.status == HarvestStatus.FAILED and "no-such-host.invalid" in harvest.error


def test_killed_harvest_resumes_from_its_cursor_to_the_same_end():
    state = ViyaState.from_recordings(shared_fixture("viya", "viya_202310"))
    with FakeViya(state) as fake:
        run_harvest(connector_for(fake, batch=3))
        expected = _picture()
        _wipe()
        connector = connector_for(fake, batch=3)
        pages = connector.changes_since

        def dying(cursor):
            for n, page in enumerate(pages(cursor)):
                if n == 4:
                    raise KeyboardInterrupt("killed")
                yield page

        connector.changes_since = dying
        with pytest.raises(KeyboardInterrupt):
            run_harvest(connector)
        stored_cursor = load_cursor(connector.source_key())
        assert stored_cursor["stamps"]  # the pages that landed are remembered
        assert run_harvest(connector_for(fake, batch=3)).status == HarvestStatus.SUCCEEDED
        assert _picture() == expected
