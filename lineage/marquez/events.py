"""Marquez's `GET /api/v1/events/lineage`: the OpenLineage events received, as received (the raw payloads the
ingest keeps), newest first by eventTime unless `sortDirection=asc`; `before` / `after` bound eventTime.

Every such read is an export of raw data and is recorded in the audit trail like the other exports
(`lineage.events.export`, with the filters and the range of events handed out).
"""
from __future__ import annotations

from django.db import transaction

from common.audit import record
from lineage.ingest.models import IngestedEvent
from lineage.models import RawRecord


def list_events(*, before=None, after=None, ascending=False, limit=100, offset=0, namespace=None,
                as_of=None) -> dict:
    qs = IngestedEvent.objects.all()
    if namespace:
        qs = qs.filter(job_namespace=namespace) | qs.filter(dataset_namespace=namespace)
    if before is not None:
        qs = qs.filter(event_time__lt=before)
    if after is not None:
        qs = qs.filter(event_time__gt=after)
    if as_of is not None:
        # The store's clock is the event's own (eventTime), as for every other as_of read.
        qs = qs.filter(event_time__lte=as_of)
    order = ("event_time", "id") if ascending else ("-event_time", "-id")
    picked = list(qs.order_by(*order).values_list("id", "raw_id")[offset:offset + limit]) if limit else []
    bodies = RawRecord.objects.in_bulk([raw for _id, raw in picked])
    total = qs.count()
    events = [bodies[raw].body for _id, raw in picked]
    with transaction.atomic():
        record("lineage.events.export", "openlineage.events", "", after={
            "endpoint": "marquez.events", "count": len(events), "total": total, "limit": limit, "offset": offset,
            "sort": "asc" if ascending else "desc", "namespace": namespace or None,
            "before": before.isoformat() if before else None, "after": after.isoformat() if after else None,
            "as_of": as_of.isoformat() if as_of else None,
            "ingested_event_ids": [i for i, _raw in picked][:1000],
        })
    return {"events": events, "totalCount": total}
