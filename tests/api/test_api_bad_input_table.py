"""Every request gets a JSON answer of the documented error shape, never a 5xx, whatever its body, headers
or query: one table of (method, path, body, headers) -> (status, error code) over ingest, batch, list filters
and write endpoints. After the table ran, nothing from refused input is stored, and the audit chain verifies.
Runs on SQLite and PostgreSQL alike: both must answer every row the same way."""
from __future__ import annotations

import json
import re

import pytest

from governance.audit.verify import verify_chain
from tests.support.store_counts import stored_counts

EVENT = {
    "eventType": "START",
    "eventTime": "2024-01-01T00:00:00Z",
    "run": {"runId": "3f5e83fa-3480-44ff-99c5-ff943904e5e8"},
    "job": {"namespace": "ns", "name": "job"},
    "producer": "https://example.com/p",
}


def _event(**changes) -> dict:
    event = json.loads(json.dumps(EVENT))
    event.update(changes)
    return event


def _nested_object(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def _deep_event(levels: int, array: bool = False) -> str:
    facet = "[" * levels + "1" + "]" * levels if array else _nested_object(levels)
    return json.dumps(_event()).rstrip("}") + ', "run": {"runId": "r1", "facets": {"deep": {"x": ' + facet + "}}}}"


JSON = "application/json"
LONE_SURROGATE = '"surr\\ud800x"'  # valid JSON text, not valid Unicode

# (id, method, path, body (str/bytes, or a value sent as JSON), content type, expected status, error code)
CASES = [
    # ingest: content types
    ("ingest text/plain", "post", "/api/v1/lineage", json.dumps(EVENT), "text/plain", 415, "unsupported_media_type"),
    ("ingest xml", "post", "/api/v1/lineage", "<event/>", "application/xml", 415, "unsupported_media_type"),
    ("ingest no content type", "post", "/api/v1/lineage", json.dumps(EVENT), "", 415, "unsupported_media_type"),
    # ingest: nesting, unicode, NUL
    ("ingest 1000 nested objects", "post", "/api/v1/lineage", _deep_event(1000), JSON, 400, "json_too_deep"),
    ("ingest 1000 nested arrays", "post", "/api/v1/lineage", _deep_event(1000, array=True), JSON, 400, "json_too_deep"),
    ("ingest 100000 nested arrays", "post", "/api/v1/lineage", "[" * 100000 + "]" * 100000, JSON, 400, "json_too_deep"),
    ("ingest lone surrogate in job name", "post", "/api/v1/lineage",
     json.dumps(EVENT).replace('"name": "job"', '"name": ' + LONE_SURROGATE), JSON, 422, "invalid_unicode"),
    ("ingest lone surrogate in a key", "post", "/api/v1/lineage",
     json.dumps(EVENT).replace('"producer"', '"x\\udc00": 1, "producer"'), JSON, 422, "invalid_unicode"),
    ("ingest NUL in job name", "post", "/api/v1/lineage", _event(job={"namespace": "ns", "name": "n\u0000l"}), JSON,
     422, "nul_character"),
    ("ingest NUL in a facet", "post", "/api/v1/lineage",
     _event(run={"runId": "r2", "facets": {"f": {"v": "a\u0000"}}}), JSON, 422, "nul_character"),
    ("ingest eventTime digits", "post", "/api/v1/lineage", _event(eventTime="99999999999999999999T"), JSON, 422,
     "unprocessable_event"),
    ("ingest job null", "post", "/api/v1/lineage", _event(job=None), JSON, 400, "not_an_event"),
    ("ingest NaN", "post", "/api/v1/lineage", json.dumps(EVENT).replace('"producer"', '"x": NaN, "producer"'), JSON,
     400, "malformed_json"),
    ("ingest 1e400", "post", "/api/v1/lineage", json.dumps(EVENT).replace('"producer"', '"x": 1e400, "producer"'),
     JSON, 400, "malformed_json"),
    ("ingest bad gzip", "post", "/api/v1/lineage", b"\x1f\x8b garbage", JSON, 400, "malformed_gzip"),
    # batch
    ("batch 1000 nested", "post", "/api/v1/lineage/batch", "[" + _deep_event(1000) + "]", JSON, 400, "json_too_deep"),
    ("batch text/plain", "post", "/api/v1/lineage/batch", json.dumps([EVENT]), "text/plain", 415,
     "unsupported_media_type"),
    ("batch object", "post", "/api/v1/lineage/batch", {"a": 1}, JSON, 400, "not_an_event"),
    # list filters and query parameters
    ("nodes bad kind", "get", "/api/nodes/?kind=spaceship", None, None, 400, "invalid"),
    ("nodes bad time range", "get", "/api/nodes/?first_seen_after=yesterday", None, None, 400, "invalid"),
    ("nodes NUL name", "get", "/api/nodes/?name=a%00b", None, None, 400, "nul_character"),
    ("nodes NUL search", "get", "/api/nodes/?q=%00", None, None, 400, "nul_character"),
    ("nodes bad archived", "get", "/api/nodes/?archived=perhaps", None, None, 400, "invalid"),
    ("nodes bad cursor", "get", "/api/nodes/?cursor=%%%", None, None, 200, None),
    ("runs bad page size", "get", "/api/runs/?page_size=-5", None, None, 200, None),
    ("edges bad src", "get", "/api/edges/?src=abc", None, None, 400, "invalid"),
    ("edges bad as_of", "get", "/api/edges/?as_of=soon", None, None, 400, "invalid"),
    ("ingested-events bad kind", "get", "/api/ingested-events/?event_kind=x", None, None, 400, "invalid"),
    ("raw-records NUL digest", "get", "/api/raw-records/?digest=%00", None, None, 400, "nul_character"),
    ("promotion-requests bad state", "get", "/api/promotion-requests/?state=sideways", None, None, 400, "invalid"),
    ("promotion-requests bad node", "get", "/api/promotion-requests/?node=x", None, None, 400, "invalid"),
    ("audit entries bad since", "get", "/api/audit/entries/?since=later", None, None, 400, "invalid"),
    ("audit entries bad seq", "get", "/api/audit/entries/?seq_min=abc", None, None, 400, "invalid"),
    ("marquez lineage deep", "get", "/api/v1/lineage?nodeId=job:a:b&depth=100000", None, None, 400, "invalid_depth"),
    ("marquez lineage NUL", "get", "/api/v1/lineage?nodeId=job:a:%00", None, None, 400, "nul_character"),
    ("lineage bad depth", "get", "/api/nodes/1/lineage/?depth=999999", None, None, 404, "not_found"),
    # unknown paths and methods
    ("unknown api path", "get", "/api/no-such-thing/", None, None, 404, "not_found"),
    ("unknown api post", "post", "/api/no-such-thing/", {"a": 1}, JSON, 404, "not_found"),
    ("method not allowed", "delete", "/api/nodes/", None, None, 405, "method_not_allowed"),
    # write endpoints
    ("promotion deep", "post", "/api/promotion-requests/", '{"node": 1, "justification": ' + "[" * 1000 + "]" * 1000 + "}",
     JSON, 400, "json_too_deep"),
    ("promotion NUL", "post", "/api/promotion-requests/", {"node": 1, "target_stage": "staging", "justification": "a\u0000"},
     JSON, 400, "nul_character"),
    ("promotion surrogate", "post", "/api/promotion-requests/",
     '{"node": 1, "target_stage": "staging", "justification": ' + LONE_SURROGATE + "}", JSON, 400, "invalid_unicode"),
    ("promotion text/plain", "post", "/api/promotion-requests/", "node=1", "text/plain", 415, "unsupported_media_type"),
    ("promotion no content type", "post", "/api/promotion-requests/", '{"node": 1}', "", 415, "unsupported_media_type"),
    ("promotion Infinity", "post", "/api/promotion-requests/", '{"node": 1, "justification": Infinity}', JSON, 400,
     "malformed_json"),
    ("stage policy NaN metric", "patch", "/api/stage-policies/staging/",
     '{"required_metrics": {"acc": {">=": NaN}}}', JSON, 400, "malformed_json"),
    ("promotion malformed", "post", "/api/promotion-requests/", "{nope", JSON, 400, "malformed_json"),
    ("promotion node is text", "post", "/api/promotion-requests/", {"node": "x", "target_stage": "staging",
                                                                     "justification": "j"}, JSON, 400, "invalid"),
    ("stage policy deep metrics", "patch", "/api/stage-policies/staging/",
     '{"required_metrics": ' + _nested_object(500) + "}", JSON, 400, "json_too_deep"),
    ("stage policy bad metrics", "patch", "/api/stage-policies/staging/", {"required_metrics": {"acc": 3}}, JSON, 400,
     "invalid"),
    ("hold NUL reason", "post", "/api/archive/holds/", {"node": 1, "reason": "\u0000"}, JSON, 400, "nul_character"),
    ("hold no node", "post", "/api/archive/holds/", {"reason": "r"}, JSON, 400, "invalid"),
    ("bundle deep", "post", "/api/archive/bundles/", "[" * 2000 + "]" * 2000, JSON, 400, "json_too_deep"),
    ("bundle bad depth", "post", "/api/archive/bundles/", {"node": 1, "depth": "deep"}, JSON, 400, "invalid"),
    ("same-as NUL", "post", "/api/links/same-as/", {"a": "x\u0000", "b": 2}, JSON, 400, "nul_character"),
    ("connector surrogate", "post", "/api/connectors/", '{"name": ' + LONE_SURROGATE + "}", JSON, 400,
     "invalid_unicode"),
    ("checkpoint deep", "post", "/api/audit/checkpoints/", _nested_object(300), JSON, 400, "json_too_deep"),
    ("retention bad", "post", "/api/archive/retention-policies/", {"keep_days": "forever"}, JSON, 400, "invalid"),
]

LEAKS = re.compile(r"\b(NoneType|dict|list|str|int|float|Traceback|SELECT|INSERT|psycopg2?|sqlite3?)\b")


def _send(client, method, path, body, content_type):
    if body is None:
        return getattr(client, method)(path)
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    extra = {"content_type": content_type} if content_type else {}
    if not content_type:
        # The test client fills in multipart when content_type is absent: send a raw body without one.
        extra = {"content_type": ""}
    if isinstance(data, bytes) and data.startswith(b"\x1f\x8b"):
        extra["HTTP_CONTENT_ENCODING"] = "gzip"
    return client.generic(method.upper(), path, data, **extra)


@pytest.mark.django_db
def test_every_bad_input_is_a_json_error_and_changes_nothing(clients, users):
    from django.contrib.auth.models import Group

    users["admin"].groups.add(*Group.objects.filter(name__in=["engineer", "auditor", "approver"]))
    client = clients["admin"]
    before = stored_counts()
    wrong = []
    for case_id, method, path, body, content_type, status, code in CASES:
        response = _send(client, method, path, body, content_type)
        got_code = None
        if response.status_code != 200 or code:
            assert response["Content-Type"].startswith("application/json"), (case_id, response["Content-Type"])
            payload = response.json()
            got_code = payload.get("error")
            text = json.dumps(payload)
            leaked = LEAKS.findall(text)
            if leaked:
                wrong.append((case_id, "leaks", leaked, text[:300]))
        if (response.status_code, got_code) != (status, code):
            wrong.append((case_id, response.status_code, got_code, response.content[:300]))
    assert not wrong, "\n".join(map(str, wrong))
    assert stored_counts() == before
    assert verify_chain().ok
