"""Reading an HTTP body into OpenLineage events, and deciding which of them we can take.

Two gates, because producers and operators need to know different things:

- 400 (`IngestRejected.status == 400`): the body is not JSON, not an object, or its parts have the wrong
  shape (`run` is a string, `inputs` is not a list…). The sender has a bug; retrying will not help.
- 422: well-formed, but lacks what the graph needs — job namespace/name, a run id for a RunEvent, an
  eventTime we can read, a producer. Marquez answers 422 for these too.

What Marquez tolerates we tolerate (missing `schemaURL`, `eventTime` without zone, run ids that are not
UUIDs); whether the event also meets the strict 2-0-2 spec is judged separately (lineage.ingest.strict)
and recorded, never used to reject.
"""
from __future__ import annotations

import datetime as dt
import json
import zlib
from dataclasses import dataclass, field

from dateutil import parser as date_parser

from django.conf import settings

from common import inputs
from lineage.ingest.models import EventKind

# A body (after gunzip) larger than this is refused: one Spark event with full schema facets is rarely
# above a few hundred KB, a batch of 500 a few MB.
MAX_BODY_BYTES = 64 * 1024 * 1024
# One event larger than this (its JSON text, as sent or as an item of a batch) is refused with 413
# `event_too_large` (setting INGEST_MAX_EVENT_BYTES). Why 8 MiB: the largest events real producers send are
# Spark's, whose schema, columnLineage and plan facets grow with the number of columns: a 2,000-column table
# with column lineage is 2-4 MB. Far larger single events are not lineage but data (a dumped plan, a
# sample), and every byte of them is kept forever, copied into evidence bundles and sent back on reads.
DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024


def max_event_bytes() -> int:
    return int(getattr(settings, "INGEST_MAX_EVENT_BYTES", DEFAULT_MAX_EVENT_BYTES) or DEFAULT_MAX_EVENT_BYTES)


def event_too_large(size: int) -> "IngestRejected":
    limit = max_event_bytes()
    return IngestRejected(413, "event_too_large", f"the event is {size} bytes of JSON; at most {limit} are accepted "
                                                  f"per event (INGEST_MAX_EVENT_BYTES)")


def json_type(value) -> str:
    """A JSON value's type in JSON's words, for messages (never a Python class name)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "another type"

EVENT_KEYS = {"eventTime", "eventType", "run", "job", "dataset", "producer", "schemaURL", "inputs", "outputs"}
EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
# Column sizes of the store: node ids are "<namespace>:<name>" (dataset versions add "@<runId>") in 1024
# characters, run ids 255, producer and schemaURL 2048. Longer values are refused up front (422) rather
# than failing — or, on SQLite, silently passing — at the database.
MAX_NAME_CHARS = 700
MAX_RUN_ID_CHARS = 255
MAX_URI_CHARS = 2048


class IngestRejected(Exception):
    """An event (or body) we will not store. `status` is the HTTP status, `code` a stable error code."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail

    def as_json(self) -> dict:
        return {"error": self.code, "detail": self.detail}


def _bad(detail: str) -> IngestRejected:
    return IngestRejected(400, "not_an_event", detail)


def _unprocessable(detail: str) -> IngestRejected:
    return IngestRejected(422, "unprocessable_event", detail)


def decode_body(body: bytes, content_encoding: str = "") -> object:
    """Gunzip when asked, then parse JSON. Raises IngestRejected (400 / 413)."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        try:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = inflater.decompress(body, MAX_BODY_BYTES + 1)
            if len(body) > MAX_BODY_BYTES or inflater.unconsumed_tail:
                raise IngestRejected(413, "body_too_large", f"the decompressed body exceeds {MAX_BODY_BYTES} bytes")
            if not inflater.eof:
                raise _gzip_error("truncated gzip stream")
        except zlib.error as exc:
            raise _gzip_error(str(exc)) from None
    elif encoding not in ("", "identity"):
        raise IngestRejected(415, "unsupported_encoding", f"Content-Encoding {content_encoding!r} is not supported; use gzip or none")
    if len(body) > MAX_BODY_BYTES:
        raise IngestRejected(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    try:
        inputs.check_depth(body)  # before json.loads, which recurses
    except inputs.BadInput as exc:
        raise IngestRejected(exc.status, exc.code, exc.detail) from None
    try:
        return inputs.loads(body)
    except inputs.NotFiniteNumber as exc:
        raise IngestRejected(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise IngestRejected(400, "malformed_json", f"the body is not UTF-8 text (invalid byte at position {exc.start})") from None
    except RecursionError:  # a JSON_MAX_DEPTH set above what Python can parse
        raise IngestRejected(400, "json_too_deep", "the JSON nests arrays and objects too deeply") from None
    except json.JSONDecodeError as exc:
        raise IngestRejected(400, "malformed_json", f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def _gzip_error(reason: str) -> IngestRejected:
    return IngestRejected(400, "malformed_gzip", f"Content-Encoding is gzip but the body is not a valid gzip stream: {reason}")


def kind_from_schema_url(schema_url: object) -> str:
    """Marquez's rule: the `schemaURL` fragment names the kind; anything else is a RunEvent."""
    if isinstance(schema_url, str):
        fragment = schema_url.rsplit("#", 1)[-1] if "#" in schema_url else ""
        for kind in (EventKind.DATASET, EventKind.JOB, EventKind.RUN):
            if fragment in (f"/$defs/{kind.value}", f"/definitions/{kind.value}"):
                return kind.value
    return EventKind.RUN.value


def parse_event_time(value: str) -> dt.datetime:
    if "t" not in value.lower() and " " not in value.strip():
        raise ValueError("it has a date but no time of day")
    parsed = date_parser.isoparse(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


@dataclass
class DatasetRef:
    namespace: str
    name: str
    facets: dict = field(default_factory=dict)
    io_facets: dict = field(default_factory=dict)  # inputFacets / outputFacets

    @property
    def key(self) -> str:
        return f"{self.namespace}:{self.name}"


@dataclass
class ParsedEvent:
    """The parts of an accepted event the mapper needs, plus the event itself (kept raw)."""

    body: dict
    kind: str
    event_time_given: str
    event_time: dt.datetime
    event_type: str = ""
    producer: str = ""
    schema_url: str = ""
    run_id: str = ""
    run_facets: dict = field(default_factory=dict)
    job_namespace: str = ""
    job_name: str = ""
    job_facets: dict = field(default_factory=dict)
    inputs: list[DatasetRef] = field(default_factory=list)
    outputs: list[DatasetRef] = field(default_factory=list)
    dataset: DatasetRef | None = None

    @property
    def job_key(self) -> str:
        return f"{self.job_namespace}:{self.job_name}"

    @property
    def subject(self) -> str:
        """What the event is about, as one id: the run id, the job key or the dataset key."""
        if self.kind == EventKind.RUN:
            return self.run_id
        if self.kind == EventKind.JOB:
            return self.job_key
        return self.dataset.key if self.dataset else ""


def _obj(value, where: str, required: bool = True) -> dict:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _bad(f"{where} must be a JSON object, not {json_type(value)}")
    return value


def _facets(container: dict, key: str, where: str) -> dict:
    facets = container.get(key)
    if facets is None:
        return {}
    if not isinstance(facets, dict):
        raise _bad(f"{where}.{key} must be a JSON object of facets, not {json_type(facets)}")
    for name, facet in facets.items():
        if facet is not None and not isinstance(facet, dict):
            raise _bad(f"{where}.{key}.{name} must be a JSON object (a facet), not {json_type(facet)}")
    return {name: facet for name, facet in facets.items() if facet is not None}


def _text(container: dict, key: str, where: str) -> str:
    value = container.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad(f"{where}.{key} must be a string, not {json_type(value)}")
    return value


def _required_text(container: dict, key: str, where: str) -> str:
    value = _text(container, key, where)
    if not value.strip():
        raise _unprocessable(f"{where}.{key} is required")
    return value


def _check_name(namespace: str, name: str, where: str) -> None:
    if len(namespace) + len(name) > MAX_NAME_CHARS:
        raise _unprocessable(f"{where}: namespace and name together are {len(namespace) + len(name)} characters; "
                             f"at most {MAX_NAME_CHARS} are kept")


def _dataset(value, where: str, io_key: str | None) -> DatasetRef:
    item = _obj(value, where)
    ref = DatasetRef(
        namespace=_required_text(item, "namespace", where),
        name=_required_text(item, "name", where),
        facets=_facets(item, "facets", where),
        io_facets=_facets(item, io_key, where) if io_key else {},
    )
    _check_name(ref.namespace, ref.name, where)
    return ref


def _datasets(body: dict, key: str, io_key: str) -> list[DatasetRef]:
    items = body.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise _bad(f"$.{key} must be a JSON array, not {json_type(items)}")
    return [_dataset(item, f"$.{key}[{i}]", io_key) for i, item in enumerate(items)]


def parse_event(body: object) -> ParsedEvent:
    """Check one decoded event. Raises IngestRejected (400 for shape, 422 for missing needs)."""
    if not isinstance(body, dict):
        raise _bad(f"an OpenLineage event is a JSON object, not {json_type(body)}")
    if not EVENT_KEYS & body.keys():
        raise _bad("the object has none of the OpenLineage event fields (eventTime, run, job, dataset, producer…)")
    schema_url = _text(body, "schemaURL", "$")
    kind = kind_from_schema_url(schema_url)
    time_given = _text(body, "eventTime", "$")
    if not time_given.strip():
        raise _unprocessable("$.eventTime is required")
    if len(time_given) > 64:
        raise _unprocessable("$.eventTime is longer than any ISO 8601 date-time")
    try:
        event_time = parse_event_time(time_given)
    except (ValueError, OverflowError) as exc:
        why = "it has a date but no time of day" if "no time of day" in str(exc) else \
            "expected a date and time such as 2024-01-31T12:00:00Z"
        raise _unprocessable(f"$.eventTime {time_given!r} is not an ISO 8601 date-time: {why}") from None
    producer = _text(body, "producer", "$")
    if not producer.strip():
        raise _unprocessable("$.producer is required (a URI naming what produced the event)")
    for key, value in (("producer", producer), ("schemaURL", schema_url)):
        if len(value) > MAX_URI_CHARS:
            raise _unprocessable(f"$.{key} is {len(value)} characters; at most {MAX_URI_CHARS} are kept")
    event_type = _text(body, "eventType", "$")
    if event_type and event_type not in EVENT_TYPES:
        raise _unprocessable(f"$.eventType {event_type!r} is not one of {', '.join(EVENT_TYPES)}")
    event = ParsedEvent(
        body=body, kind=kind, event_time_given=time_given, event_time=event_time,
        event_type=event_type, producer=producer, schema_url=schema_url,
    )
    if kind == EventKind.DATASET:
        if "dataset" not in body:
            raise _unprocessable("$.dataset is required in a DatasetEvent")
        event.dataset = _dataset(body["dataset"], "$.dataset", None)
        return event
    if "job" not in body:
        raise _unprocessable(f"$.job is required in a {kind}")
    job = _obj(body["job"], "$.job")
    event.job_namespace = _required_text(job, "namespace", "$.job")
    event.job_name = _required_text(job, "name", "$.job")
    event.job_facets = _facets(job, "facets", "$.job")
    _check_name(event.job_namespace, event.job_name, "$.job")
    event.inputs = _datasets(body, "inputs", "inputFacets")
    event.outputs = _datasets(body, "outputs", "outputFacets")
    if kind == EventKind.RUN:
        if "run" not in body:
            raise _unprocessable("$.run is required in a RunEvent (set schemaURL to …#/$defs/JobEvent for a JobEvent)")
        run = _obj(body["run"], "$.run")
        event.run_id = _required_text(run, "runId", "$.run")
        if len(event.run_id) > MAX_RUN_ID_CHARS:
            raise _unprocessable(f"$.run.runId is {len(event.run_id)} characters; at most {MAX_RUN_ID_CHARS} are kept")
        event.run_facets = _facets(run, "facets", "$.run")
    return event


def split_batch(body: object) -> list:
    if not isinstance(body, list):
        raise _bad(f"a batch is a JSON array of events, not {json_type(body)}")
    return body


__all__ = [
    "DatasetRef", "IngestRejected", "ParsedEvent", "decode_body", "kind_from_schema_url", "parse_event",
    "parse_event_time", "split_batch",
]
