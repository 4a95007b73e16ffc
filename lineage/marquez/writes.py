"""Marquez's deprecated write endpoints (PUT namespace / source / dataset / job, run create / start /
complete / fail / abort, tags, soft deletes): refused with a JSON error that says what to send instead.

Why refused rather than translated into OpenLineage events: Marquez itself deprecated them in favour of
OpenLineage (marquez-python marks every one `deprecated_in 0.20.0`), current producers (the OpenLineage
integrations and clients) only POST OpenLineage events, and what they carry cannot be stored honestly:
a `PUT` of a job has no event time or producer, a run transition no inputs or outputs, a tag or a soft
delete would edit facts the store keeps immutable. The refusal is audited like every refused governed action.
"""
from __future__ import annotations

from django.db import transaction

from common.audit import record
from lineage.marquez import errors

MESSAGE = ("Marquez's deprecated write API is not supported here: send OpenLineage events to "
           "POST /api/v1/lineage (or a JSON array to POST /api/v1/lineage/batch) instead; "
           "see docs/marquez-api.md.")


def refuse(request, allowed: str):
    with transaction.atomic():
        record("marquez.write.refused", "marquez.endpoint", request.path,
               after={"method": request.method, "path": request.path}, reason="deprecated Marquez write API")
    return errors.response(405, MESSAGE, "deprecated_write", headers={"Allow": allowed})
