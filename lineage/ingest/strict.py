"""Does an event meet the strict OpenLineage 2-0-2 core spec?

The verdict is the spec's own: the published 2-0-2 JSON schema (lineage/ingest/spec/, shipped with the
service because openlineage-python does not package it), compiled once per event kind by jsonschema-rs
with format assertions (RFC 3339 `date-time` with its zone offset, hyphenated `uuid`, `uri`). Every event
is judged (the verdict is stored with it), and walking it through Python objects cost about seven times the
compiled check (56.5 against 8.2 µs of CPU per event, rejected ones included, `python -m
bench.strict_judgement`): the compiled schema answers for all, and only an event it rejects is walked for
messages.

The walk explains a rejection in the words of openlineage-python's generated classes
(`openlineage.client.generated.base`, built from the same spec): the attrs fields say what is required and
of which type, their validators check `eventTime` and `runId`; and it adds the three things the client
deliberately leaves loose because it fills them in itself when *it* builds an event:

- `producer`, `schemaURL` and every facet's `_producer` / `_schemaURL` are required by the spec but have
  defaults in the classes;
- `date-time` in the spec is RFC 3339, which needs a zone offset; the client's validator (dateutil
  isoparse) accepts a naive time;
- `format: uuid` is the hyphenated RFC 4122 form; `uuid.UUID()` also takes braces and bare hex.

Should the walk find nothing to say about an event the schema rejects, the schema's own messages are
given instead: the verdict never depends on the walk.

Facets are judged as the core spec judges them: each facet is a BaseFacet of its position (RunFacet,
JobFacet, InputDatasetFacet…) — a standard facet failing its own facet schema does not make the event
fail the core spec (the shared fixtures call that CORE-ONLY). tests/ingest/test_ingest_strict_judgement.py
cross-checks the verdicts and messages against the fixtures' recorded verdicts and python-jsonschema.
"""
from __future__ import annotations

import enum
import functools
import re
import types
import typing

import json
from pathlib import Path

import attr
import jsonschema_rs
from openlineage.client.generated import base as ol

EVENT_CLASSES = {"RunEvent": ol.RunEvent, "JobEvent": ol.JobEvent, "DatasetEvent": ol.DatasetEvent}
# Required by the spec, defaulted by the client classes.
SPEC_REQUIRED_DEFAULTED = {"producer", "schemaURL", "_producer", "_schemaURL"}
URI_FIELDS = {"producer", "schemaURL", "_producer", "_schemaURL"}
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s\"<>\\^`{|}]*$")
_TYPE_NAMES = {str: "string", bool: "boolean", int: "integer", float: "number"}


@functools.lru_cache(maxsize=None)
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


SPEC = Path(__file__).with_name("spec") / "OpenLineage-2-0-2.json"


@functools.lru_cache(maxsize=None)
def compiled(kind: str) -> jsonschema_rs.Draft202012Validator:
    """The 2-0-2 schema narrowed to one event kind (the spec's top level is oneOf the three): the kind is
    the one the event's schemaURL names, as the walk and the mapping take it."""
    schema = json.loads(SPEC.read_text(encoding="utf-8"))
    schema.pop("oneOf")
    schema["$ref"] = f"#/$defs/{kind}"
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def judge(body: dict, kind: str) -> list[str]:
    """Errors against the strict 2-0-2 core spec; an empty list means the event passes."""
    if kind not in EVENT_CLASSES:
        return [f"$: unknown event kind {kind!r}"]
    if compiled(kind).is_valid(body):
        return []
    return explain(body, kind)


def explain(body: dict, kind: str) -> list[str]:
    """Why `body` fails the spec: the walk's messages, or the schema's where the walk finds none."""
    errors = walk(body, kind) or [_schema_message(e) for e in compiled(kind).iter_errors(body)]
    if len(errors) > MAX_ERRORS:
        # Kept with the event and listed by /api/ingested-events/: bounded like every list's items.
        errors = errors[:MAX_ERRORS] + [f"… and {len(errors) - MAX_ERRORS} more"]
    return errors


MAX_ERRORS = 20


def walk(body: dict, kind: str) -> list[str]:
    """The judgement by openlineage-python's classes alone (unbounded): what explains a rejection, and
    what the ingest judged by before the compiled schema (the tests hold the two to the same verdicts)."""
    errors: list[str] = []
    _structure(EVENT_CLASSES[kind], body, "$", errors)
    if isinstance(body, dict):
        if kind == "DatasetEvent" and "job" in body and "run" in body:
            errors.append("$: a DatasetEvent must not carry both job and run")
        if kind == "JobEvent" and "run" in body:
            errors.append("$: a JobEvent must not carry a run")
    return errors


def _schema_message(error: jsonschema_rs.ValidationError) -> str:
    path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.instance_path)
    return f"{path}: {error.message}"


@functools.lru_cache(maxsize=None)
def _fields(cls) -> tuple:
    """Per generated class, once: (JSON key, required, type plan, attrs validator, attrs field)."""
    hints = _hints(cls)
    plan = []
    for field in attr.fields(cls):
        required = (field.init and field.default is attr.NOTHING) or field.name in SPEC_REQUIRED_DEFAULTED
        plan.append((field.name, required, _plan(hints.get(field.name, typing.Any)), field.validator, field))
    return tuple(plan)


def _structure(cls, data, path: str, errors: list[str]) -> bool:
    """Walk JSON `data` through the fields of the generated attrs class `cls`, collecting errors.

    The classes' own validators run on each value as attrs would run them when building the instance;
    we do not build it (nothing reads it, and building would run every validator a second time)."""
    if not isinstance(data, dict):
        errors.append(f"{path}: {_short(data)} is not of type 'object'")
        return False
    before = len(errors)
    for key, required, plan, validator, field in _fields(cls):
        if key not in data:
            if required:
                errors.append(f"{path}: {key!r} is a required property")
            continue
        value = data[key]
        field_errors = len(errors)
        _check(plan, value, path, key, errors)
        if len(errors) != field_errors or not isinstance(value, str):
            continue
        if key in URI_FIELDS and not _URI.match(value):
            errors.append(f"{path}.{key}: {_short(value)} is not a 'uri'")
        elif key == "eventTime" and not _RFC3339.match(value):
            errors.append(f"{path}.{key}: {_short(value)} is not a 'date-time' (RFC 3339, with a zone offset)")
        elif key == "runId" and not _hyphenated_uuid(value):
            errors.append(f"{path}.{key}: {_short(value)} is not a 'uuid'")
        elif validator is not None:
            try:
                validator(None, field, value)
            except (ValueError, TypeError, OverflowError) as exc:
                errors.append(f"{path}.{key}: {_short(value)} is rejected by openlineage-python: {exc}")
    return len(errors) == before


def _hyphenated_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36 and all(value[i] == "-" for i in (8, 13, 18, 23))


@functools.lru_cache(maxsize=None)
def _plan(hint) -> tuple:
    """How to check a JSON value against a type hint of the generated classes, worked out once per hint."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = options[0] if len(options) == 1 else typing.Any
        origin = typing.get_origin(hint)
    if hint is typing.Any:
        return ("any",)
    if origin is dict:
        return ("dict", _plan(typing.get_args(hint)[1]))
    if origin is list:
        return ("list", _plan(typing.get_args(hint)[0]))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return ("enum", hint, frozenset(m.value for m in hint))
    if attr.has(hint):
        return ("attrs", hint)
    if hint in _TYPE_NAMES:
        return ("scalar", hint)
    return ("any",)


_PLAN_JSON_TYPE = {"dict": "object", "attrs": "object", "list": "array", "enum": "string"}


def _check(plan: tuple, value, path: str, key, errors: list[str]) -> None:
    kind = plan[0]
    if kind == "any":
        return
    where = f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]"
    if value is None:
        # `X | None` in the classes is the Python default; the spec makes no core property nullable.
        name = _PLAN_JSON_TYPE.get(kind) or _TYPE_NAMES.get(plan[1], "value")
        errors.append(f"{where}: None is not of type '{name}'")
    elif kind == "attrs":
        _structure(plan[1], value, where, errors)
    elif kind == "dict":
        if not isinstance(value, dict):
            errors.append(f"{where}: {_short(value)} is not of type 'object'")
            return
        for k, v in value.items():
            _check(plan[1], v, where, k, errors)
    elif kind == "list":
        if not isinstance(value, list):
            errors.append(f"{where}: {_short(value)} is not of type 'array'")
            return
        for i, v in enumerate(value):
            _check(plan[1], v, where, i, errors)
    elif kind == "enum":
        if not isinstance(value, str) or value not in plan[2]:
            errors.append(f"{where}: {_short(value)} is not one of {sorted(plan[2])}")
    elif kind == "scalar":
        hint = plan[1]
        if not isinstance(value, hint) or (hint is not bool and isinstance(value, bool)):
            errors.append(f"{where}: {_short(value)} is not of type '{_TYPE_NAMES[hint]}'")
