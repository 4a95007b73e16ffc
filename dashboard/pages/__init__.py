"""Dashboard pages. Each module exposes PAGE (its key in dashboard.auth.PAGE_ROLES), TITLE,
`layout(user, query, *path_args)` and `register(app)` for its callbacks."""
from __future__ import annotations

import re

from dashboard.pages import approvals, archive, audit, connectors, lineage, model_version, models, overview

PAGES = [overview, lineage, model_version, models, approvals, audit, archive, connectors]

_ROUTES = [
    (re.compile(r"^$"), overview),
    (re.compile(r"^lineage/?$"), lineage),
    (re.compile(r"^model/(\d+)/?$"), model_version),
    (re.compile(r"^models/?$"), models),
    (re.compile(r"^approvals/?$"), approvals),
    (re.compile(r"^audit/?$"), audit),
    (re.compile(r"^archive/?$"), archive),
    (re.compile(r"^connectors/?$"), connectors),
]


def resolve(path: str):
    for pattern, module in _ROUTES:
        match = pattern.match(path)
        if match:
            return module, match.groups()
    return None
