"""The dashboard's own URLs in one place, so pages link to each other without string surgery."""
from urllib.parse import urlencode

PREFIX = "/dashboard/"


def lineage(node_id=None, **params) -> str:
    query = {"node": node_id, **params} if node_id is not None else params
    query = {k: v for k, v in query.items() if v not in (None, "")}
    return PREFIX + "lineage" + ("?" + urlencode(query) if query else "")


def model_version(node_id) -> str:
    return f"{PREFIX}model/{node_id}"


def approvals(request_id=None) -> str:
    return PREFIX + "approvals" + (f"?request={request_id}" if request_id else "")


def models(**params) -> str:
    query = {k: v for k, v in params.items() if v not in (None, "")}
    return PREFIX + "models" + ("?" + urlencode(query) if query else "")
