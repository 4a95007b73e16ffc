"""Small OpenLineage events built by hand for the ingest tests."""

PRODUCER = "https://example.com/test"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/"


def _facet(**fields):
    return {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/X.json", **fields}


def run_event(run_id, job, inputs=(), outputs=(), time="2024-04-01T00:00:00Z", event_type="COMPLETE", facets=None):
    return {
        "eventType": event_type, "eventTime": time, "producer": PRODUCER, "schemaURL": SCHEMA + "RunEvent",
        "run": {"runId": run_id, "facets": facets or {}}, "job": {"namespace": "demo", "name": job},
        "inputs": [{"namespace": "wh", "name": n} for n in inputs],
        "outputs": [{"namespace": "wh", "name": n} if isinstance(n, str) else n for n in outputs],
    }
