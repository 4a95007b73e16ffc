"""One API shape (common/routers.py): every resource of every app resolves with and without its trailing
slash, and `GET /api/` lists every resource, not only the first app's."""
import pytest
from django.urls import Resolver404, get_resolver, resolve

from common.routers import _ROUTERS

pytestmark = pytest.mark.django_db


def _prefixes() -> list[str]:
    get_resolver().url_patterns  # the apps' routers register when the URL map is first loaded
    return sorted({prefix for router in _ROUTERS for prefix, _v, _b in router.registry})


def test_every_app_registers_through_the_one_router_factory():
    prefixes = _prefixes()
    for expected in ("nodes", "model-versions", "ingested-events", "promotion-requests", "archive/bundles",
                     "audit/entries", "connectors", "harvests"):
        assert expected in prefixes


@pytest.mark.parametrize("prefix", _prefixes())
def test_each_resource_resolves_with_and_without_its_slash(prefix):
    for url in (f"/api/{prefix}/", f"/api/{prefix}"):
        try:
            resolve(url)
        except Resolver404:
            pytest.fail(f"{url} does not resolve")


@pytest.mark.parametrize("url", ["/api/audit/verify", "/api/audit/export", "/api/links/same-as",
                                 "/api/model-versions/1/stage-history"])
def test_plain_routes_resolve_without_their_slash_too(url):
    resolve(url)
    resolve(url + "/")


def test_the_api_root_lists_every_resource(clients):
    r = clients["engineer"].get("/api/")
    assert r.status_code == 200
    assert set(r.json()) == set(_prefixes())
    assert r.json()["nodes"].endswith("/api/nodes/"), r.json()["nodes"]


def test_a_list_without_its_slash_answers_like_with_it(clients):
    with_slash, without = clients["engineer"].get("/api/nodes/"), clients["engineer"].get("/api/nodes")
    assert with_slash.status_code == without.status_code == 200
    assert with_slash.json() == without.json()
