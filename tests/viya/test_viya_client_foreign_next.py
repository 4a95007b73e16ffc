"""The Viya client follows a collection's `next` links only on the configured server, so its bearer token
never goes to a host a collection names: a foreign next link (another port, another host) stops the walk
with an error, while relative and same-origin absolute links are followed."""
import json

import pytest

from connectors.viya.client import TokenAuth, ViyaClient
from connectors.viya.errors import ViyaPayloadError
from tests.support.http_receivers import Receiver

TOKEN = "viya-bearer-token-0123456789"


def _collection(items, next_href=None):
    links = [{"rel": "next", "href": next_href, "method": "GET"}] if next_href else []
    return 200, {"Content-Type": "application/vnd.sas.collection+json"}, json.dumps(
        {"items": items, "links": links, "count": 99}).encode()


def _client(origin):
    return ViyaClient(origin, TokenAuth(TOKEN))


def test_a_next_link_to_another_port_is_not_followed_and_gets_no_token():
    with Receiver(lambda h: _collection([{"id": "stolen"}])) as attacker:
        with Receiver(lambda h: _collection([{"id": "a"}], attacker.origin + "/steal?start=1")) as viya:
            client = _client(viya.origin)
            seen = []
            with pytest.raises(ViyaPayloadError, match="next link to another server"):
                for item in client.collection("/modelRepository/models"):
                    seen.append(item["id"])
    assert seen == ["a"] and attacker.received == []
    assert viya.received[0]["headers"]["Authorization"] == "Bearer " + TOKEN


def test_a_next_link_to_another_host_is_refused_before_any_connection():
    with Receiver(lambda h: _collection([{"id": "a"}], "http://169.254.169.254/latest?start=1")) as viya:
        with pytest.raises(ViyaPayloadError, match=r"another server \(169.254.169.254\)"):
            list(_client(viya.origin).collection("/modelRepository/models"))
    assert len(viya.received) == 1


def test_relative_and_same_origin_next_links_are_followed():
    pages = {}

    def answer(handler):
        return pages[handler.path.split("?")[0]]

    with Receiver(answer) as viya:
        pages["/modelRepository/models"] = _collection([{"id": "a"}], "/modelRepository/models2?start=1")
        pages["/modelRepository/models2"] = _collection([{"id": "b"}], viya.origin + "/modelRepository/models3?start=2")
        pages["/modelRepository/models3"] = _collection([{"id": "c"}])
        items = [i["id"] for i in _client(viya.origin).collection("/modelRepository/models")]
    assert items == ["a", "b", "c"]
    assert all(r["headers"]["Authorization"] == "Bearer " + TOKEN for r in viya.received)
