"""The explorer's new callbacks (state to URL, the table view's details picker, click-to-pick path ends) and the archive's
node pickers re-check the caller's role on the server: a user with a role gets the answer, a user
without one (the outsider) gets a refusal or nothing, and never node data."""
import json

import pytest
from django.test import Client

from devtools.dashboard import DashCaller, demo_model

pytestmark = pytest.mark.django_db


def caller_for(user) -> DashCaller:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return DashCaller(client)


def write_state(caller, node_id):
    return caller.call("url.search", {
        "lin-apply.n_clicks": 1, "lin-direction.value": "upstream", "lin-depth.value": 2, "lin-kinds.value": [],
        "lin-fold.value": ["runs"], "lin-max.value": 300, "lin-asof.value": "", "url.search": f"?node={node_id}"},
        changed="lin-direction.value").json()["response"]


def row_details(caller, node_id):
    response = caller.call("lin-details.children", {"lin-table-pick.value": node_id, "url.search": ""})
    return response.json()["response"] if response.status_code == 200 else {}


def pick(caller, node_id):
    response = caller.call("lin-path-from.value", {"lin-graph.tapNodeData": {"id": str(node_id)},
                                                   "lin-click.value": "from"}, changed="lin-graph.tapNodeData")
    return response.json().get("response", {}) if response.status_code == 200 else {}


@pytest.mark.parametrize("role", ["engineer", "auditor", "approver", "admin"])
def test_every_role_may_use_the_explorer(users, role):
    ids = demo_model()
    caller = caller_for(users[role])
    assert "fold=runs" in write_state(caller, ids["model_version"])["url"]["search"]
    assert f'"data-node": "{ids["dataset"]}"' in json.dumps(row_details(caller, ids["dataset"]))
    assert pick(caller, ids["dataset"])["lin-path-from"]["value"] == str(ids["dataset"])


def test_the_outsider_is_refused_by_each_new_explorer_callback(users):
    ids = demo_model()
    caller = caller_for(users["outsider"])
    state = write_state(caller, ids["model_version"])
    assert "url" not in state and "needs the role" in json.dumps(state)
    details = json.dumps(row_details(caller, ids["dataset"]))
    assert "needs the role" in details and "train.csv" not in details
    assert "lin-path-from" not in pick(caller, ids["dataset"])
    options = caller.call_json("hold-node.options", {"hold-node.search_value": "churn"})
    assert options["hold-node"]["options"] == []
