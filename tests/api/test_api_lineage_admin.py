"""Django admin shows lineage facts to operators and refuses to add, change or delete them."""
import pytest
from django.contrib.auth import get_user_model

from lineage import store
from lineage.models import Edge, Node


@pytest.fixture
def operator_client(client, db):
    admin = get_user_model().objects.create_superuser("op", password="pw-" + "x" * 10)
    client.force_login(admin)
    raw = store.RawPayload(source="manual", kind="manual.note", source_id="n", body={"k": 1})
    a, b = store.NodeKey("manual", "dataset", "a"), store.NodeKey("manual", "run", "b")
    store.apply([store.NodeFact(key=a, name="a", raw=raw), store.NodeFact(key=b, name="b"),
                 store.EdgeFact(kind="consumed", src=a, dst=b, source="manual", raw=raw)])
    return client


def test_admin_lists_and_shows_but_never_writes(operator_client):
    node, edge = Node.objects.get(name="a"), Edge.objects.get()
    for url in ("/admin/lineage/node/", "/admin/lineage/edge/", "/admin/lineage/rawrecord/",
                "/admin/lineage/noderevision/", f"/admin/lineage/node/{node.pk}/change/",
                f"/admin/lineage/edge/{edge.pk}/change/", "/admin/lineage/node/?q=a&kind__exact=dataset"):
        assert operator_client.get(url).status_code == 200, url
    assert operator_client.get("/admin/lineage/node/add/").status_code == 403
    response = operator_client.post(f"/admin/lineage/node/{node.pk}/change/", {"name": "renamed"})
    assert response.status_code == 403
    assert operator_client.post(f"/admin/lineage/node/{node.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Node.objects.get(pk=node.pk).name == "a" and Edge.objects.count() == 1
