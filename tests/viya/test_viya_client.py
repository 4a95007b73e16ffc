"""The Viya client on its own: timestamps, ETags, filters, paging by the server's `next` links, error
bodies, conditional GETs and the shapes of other releases (3.5: strong ETags, other names, `UP` rels)."""
from __future__ import annotations

import datetime as dt

import pytest

from connectors.viya import times
from connectors.viya.client import ETag, PasswordAuth, TokenAuth, ViyaClient, and_, eq, href
from connectors.viya.errors import ViyaAuthError, ViyaNotFound, ViyaPayloadError
from devtools.viya.fake_server import FakeViya, parse_filter
from devtools.viya.fake_state import Recorded, ViyaState
from tests.support.viya import FAST
from tests.conftest import shared_fixture

UTC = dt.timezone.utc


@pytest.mark.parametrize("text, expected", [
    ("2024-02-22T14:43:56.115765Z", dt.datetime(2024, 2, 22, 14, 43, 56, 115765, UTC)),
    ("2024-08-23T15:04:26.98043Z", dt.datetime(2024, 8, 23, 15, 4, 26, 980430, UTC)),
    ("2024-08-23T17:29:30.811Z", dt.datetime(2024, 8, 23, 17, 29, 30, 811000, UTC)),
    ("2024-08-23T17:29:30Z", dt.datetime(2024, 8, 23, 17, 29, 30, tzinfo=UTC)),
    ("2025-02-25T01:27:35.123456789Z", dt.datetime(2025, 2, 25, 1, 27, 35, 123456, UTC)),
    ("2024-08-23T15:06:10+00:00", dt.datetime(2024, 8, 23, 15, 6, 10, tzinfo=UTC)),
    (1724434167625, dt.datetime(2024, 8, 23, 17, 29, 27, 625000, UTC)),
    ("0001-01-01T00:00:00Z", None),
    (None, None),
])
def test_timestamps_are_instants(text, expected):
    assert times.parse(text) == expected


def test_timestamps_compare_as_instants_not_strings():
    # As strings "…56.9Z" > "…56.115765Z" would be wrong the other way round for 4-5 digit fractions.
    assert times.parse("2024-08-23T15:04:26.98043Z") > times.parse("2024-08-23T15:04:26.115765Z")
    with pytest.raises(ValueError):
        times.parse("yesterday")


def test_etags_weak_and_strong():
    weak, strong = ETag('W/"1724434085705225000"'), ETag('"m06zkxx7"')
    assert weak.weak and weak.opaque == "1724434085705225000" and str(weak) == 'W/"1724434085705225000"'
    assert not strong.weak and strong.opaque == "m06zkxx7"
    assert weak.matches('"1724434085705225000"') and not weak.matches(strong)


def test_filters_are_built_and_understood_the_viya_way():
    assert eq("name", 'a "quoted" name') == r'eq(name,"a \"quoted\" name")'
    assert and_(eq("modelId", "m"), eq("destinationName", "maslocal")) == 'and(eq(modelId,"m"),eq(destinationName,"maslocal"))'
    assert and_(eq("a", 1)) == "eq(a,1)"
    # The recorded spellings: a space after the comma, single quotes, $primary prefixes are not ours to care.
    assert parse_filter('eq(name, "Iris")')({"name": "Iris"})
    assert parse_filter("eq(id,'x')")({"id": "x"}) and not parse_filter("eq(id,'x')")({"id": "y"})
    with pytest.raises(ValueError):
        parse_filter("eq(name")


@pytest.fixture
def fake():
    state = ViyaState.from_recordings(shared_fixture("viya", "viya_202310"))
    with FakeViya(state) as viya:
        yield viya


def _client(fake, **kwargs):
    return ViyaClient(fake.url, PasswordAuth("viya-user", "viya-password"), policy=FAST, **kwargs)


def test_paging_follows_next_links_exactly_as_given(fake):
    client = _client(fake)
    everything = {p["id"] for p in client.collection("/modelRepository/projects", limit=100)}
    assert everything == {i[0] for i in fake.state.items("project")}
    fake.calls.clear()
    paged = [p["id"] for p in client.collection("/modelRepository/projects", limit=3)]
    assert sorted(paged) == sorted(everything) and len(paged) == len(everything)
    gets = [c for c in fake.calls if c.method == "GET"]
    assert len(gets) == -(-len(everything) // 3)
    assert gets[0].query == "limit=3" and gets[1].query.startswith("start=3&limit=3")
    # Relationships put limit first in their next links; the client must not rebuild them.
    fake.calls.clear()
    rels = list(client.collection("/relationships/relationships", limit=4))
    assert len(rels) == len(fake.state.items("relationship"))
    assert [c.query for c in fake.calls if c.method == "GET"][1] == "limit=4&start=4"


def test_filtered_lookup_over_recorded_bodies(fake):
    client = _client(fake)
    model = next(iter(fake.state.items("model").values()))
    found = list(client.collection("/modelRepository/models", params={"filter": eq("name", model["name"])}))
    assert model["id"] in {m["id"] for m in found} and all(m["name"] == model["name"] for m in found)


def test_error_bodies_become_clear_exceptions(fake):
    client = _client(fake)
    with pytest.raises(ViyaNotFound) as err:
        client.get("/modelRepository/models/00000000-0000-0000-0000-000000000000")
    assert err.value.error_code == 21206 and "was not found" in str(err.value)
    with pytest.raises(ViyaNotFound, match="no such service or path"):
        client.get("/projects/projects")  # nginx's HTML 404, as recorded
    assert client.get_optional("/modelManagement/workflowProcesses") is None
    with pytest.raises(ViyaPayloadError):
        list(client.collection(f"/modelRepository/models/{next(iter(fake.state.items('model')))[0]}"))


def test_conditional_get_and_item_etags(fake):
    client = _client(fake)
    pid = next(iter(fake.state.items("project")))[0]
    first = client.get(f"/modelRepository/projects/{pid}")
    assert first.etag.weak and first.last_modified
    again = client.get(f"/modelRepository/projects/{pid}", if_none_match=first.etag)
    assert again.status == 304 and again.body is None


def test_replays_recorded_answers_that_are_not_resources(fake):
    body = _client(fake).get("/deploymentData/cadenceVersion").body
    assert body["cadenceVersion"] == "2023.10"


def test_tokens(fake):
    with pytest.raises(ViyaAuthError):
        TokenAuth("")
    with pytest.raises(ViyaAuthError, match="refused the credentials") as err:
        ViyaClient(fake.url, PasswordAuth("viya-user", "wrong-pw"), policy=FAST).get("/modelRepository/repositories")
    assert "wrong-pw" not in str(err.value)
    fake.calls.clear()
    client = _client(fake)
    client.get("/modelRepository/repositories")
    fake.expire_tokens()
    client.get("/modelRepository/repositories")  # renewed once, transparently
    assert len(fake.calls_to("POST", "/SASLogon/oauth/token")) == 2
    with pytest.raises(ValueError):
        ViyaClient("viya.example.com", TokenAuth("t"))


def test_release_3_5_shapes_need_no_configuration():
    """Viya 3.5: Java-style strong ETags, `version=2` collection media type, upper-case rels, other names."""
    state = ViyaState()
    page1 = {"name": "items", "start": 0, "count": 3, "limit": 2, "version": 2,
             "items": [{"id": "a", "modifiedTimeStamp": "2020-01-01T00:00:00.000Z"}, {"id": "b"}],
             "links": [{"rel": "NEXT", "href": "/legacy/things?start=2&limit=2", "method": "GET"},
                       {"rel": "UP", "href": "/legacy", "method": "GET"}]}
    page2 = {"name": "items", "start": 2, "count": 3, "limit": 2, "version": 2, "items": [{"id": "c"}], "links": []}
    ctype = "application/vnd.sas.collection+json;charset=UTF-8;version=2"
    state.replay[("GET", "/legacy/things?limit=2")] = Recorded(200, ctype, {}, page1)
    state.replay[("GET", "/legacy/things?start=2&limit=2")] = Recorded(200, ctype, {}, page2)
    state.replay[("GET", "/legacy/things/a")] = Recorded(200, "application/vnd.sas.thing+json;version=2;charset=UTF-8",
                                                         {"ETag": '"k1x2y3z4"'}, page1["items"][0])
    with FakeViya(state) as fake:
        client = ViyaClient(fake.url, TokenAuth(fake.issue_token()), policy=FAST)
        assert [i["id"] for i in client.collection("/legacy/things", limit=2)] == ["a", "b", "c"]
        item = client.get("/legacy/things/a")
        assert not item.etag.weak and item.etag.opaque == "k1x2y3z4"
        assert href(page1, "up") == "/legacy"
