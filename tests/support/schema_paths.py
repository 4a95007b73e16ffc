"""A schema path (`/api/…/{id}/…`) made into a URL that names a real object of a test world: what the
every-write and every-route walks share. Each world says how it finds its node routes, the stage, the
promotion request and the link its paths are meant to name."""
from __future__ import annotations

from typing import Callable


def fill(path: str, w: dict, *, node_pk: Callable[[str], object], stage: str, request: Callable, link: Callable,
         job: str, path_to: Callable) -> str:
    """`node_pk(head)`: the pk for a node route's first segment, None when it is no node route; `request`,
    `link` and `path_to` are asked only when the path needs them (not every world has every object)."""
    parts = path.strip("/").split("/")
    head = parts[1]
    pk = node_pk(head)
    if pk is None:
        pk = {
            "archive": lambda: {"bundles": w["bundle"], "bundle-builds": w["build"], "holds": w["hold"],
                                "retention-policies": w["policy"]}.get(parts[2]),
            "audit": lambda: {"checkpoints": w["checkpoint"], "entries": w["entry"]}.get(parts[2]),
            "connectors": lambda: w["connector"], "harvests": lambda: w["harvest"], "nodes": lambda: w["mv"].pk,
            "edges": lambda: w["edge"], "raw-records": lambda: w["raw"], "ingested-events": lambda: w["event"],
            "stages": lambda: stage, "stage-policies": lambda: stage,
            "promotion-requests": request, "promotion-decisions": lambda: w["decision"],
            "stage-assignments": lambda: w["assignment"], "webhooks": lambda: w["hook"],
            "webhook-deliveries": lambda: w["delivery"], "tokens": lambda: w["token"], "links": link,
        }.get(head, lambda: None)()
    url = path
    for placeholder in ("{id}", "{seq}", "{name}", "{stage}", "{node_id}"):
        url = url.replace(placeholder, str(pk))
    if url == "/api/v1/lineage":
        url += f"?nodeId=job:ns:{job}"
    if url.endswith("/path/"):
        url += f"?to={path_to()}"
    return url
