"""Does an event meet the strict OpenLineage 2-0-2 core spec? Judged with what openlineage-python ships.

The running service cannot read the spec's JSON schemas (they are not packaged), but openlineage-python
ships classes generated from exactly that spec (`openlineage.client.generated.base`, whose `_get_schema()`
names 2-0-2). We structure the event into them field by field — the attrs fields say what is required
and of which type, their validators check `eventTime` and `runId` — and add the three things the client
deliberately leaves loose because it fills them in itself when *it* builds an event:

- `producer`, `schemaURL` and every facet's `_producer` / `_schemaURL` are required by the spec but have
  defaults in the classes;
- `date-time` in the spec is RFC 3339, which needs a zone offset; the client's validator (dateutil
  isoparse) accepts a naive time;
- `format: uuid` is the hyphenated RFC 4122 form; `uuid.UUID()` also takes braces and bare hex.

Facets are judged as the core spec judges them: each facet is a BaseFacet of its position (RunFacet,
JobFacet, InputDatasetFacet…) — a standard facet failing its own facet schema does not make the event
fail the core spec (the shared fixtures call that CORE-ONLY). tests/test_ingest_strict_judgement.py
cross-checks this judgement against the JSON schemas with jsonschema.
"""
from __future__ import annotations

import enum
import functools
import re
import types
import typing

import attr
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


def judge(body: dict, kind: str) -> list[str]:
    """Errors against the strict 2-0-2 core spec; an empty list means the event passes."""
    errors: list[str] = []
    if kind not in EVENT_CLASSES:
        return [f"$: unknown event kind {kind!r}"]
    _structure(EVENT_CLASSES[kind], body, "$", errors)
    if isinstance(body, dict):
        if kind == "DatasetEvent" and "job" in body and "run" in body:
            errors.append("$: a DatasetEvent must not carry both job and run")
        if kind == "JobEvent" and "run" in body:
            errors.append("$: a JobEvent must not carry a run")
    return errors


def _structure(cls, data, path: str, errors: list[str]):
    """Build an instance of the generated attrs class `cls` from JSON `data`, collecting errors."""
    if not isinstance(data, dict):
        errors.append(f"{path}: {_short(data)} is not of type 'object'")
        return None
    before = len(errors)
    hints = _hints(cls)
    kwargs = {}
    for field in attr.fields(cls):
        key = field.name
        where = f"{path}.{key}"
        if key not in data:
            if (field.init and field.default is attr.NOTHING) or key in SPEC_REQUIRED_DEFAULTED:
                errors.append(f"{path}: {key!r} is a required property")
            continue
        value = _convert(hints.get(key, typing.Any), data[key], where, errors)
        if key in URI_FIELDS and isinstance(value, str) and not _URI.match(value):
            errors.append(f"{where}: {_short(value)} is not a 'uri'")
        if key == "eventTime" and isinstance(value, str) and not _RFC3339.match(value):
            errors.append(f"{where}: {_short(value)} is not a 'date-time' (RFC 3339, with a zone offset)")
        if key == "runId" and isinstance(value, str) and not _hyphenated_uuid(value):
            errors.append(f"{where}: {_short(value)} is not a 'uuid'")
        if field.validator is not None and value is not None and len(errors) == before:
            try:
                field.validator(None, field, value)
            except (ValueError, TypeError, OverflowError) as exc:
                errors.append(f"{where}: {_short(value)} is rejected by openlineage-python: {exc}")
        if field.init:
            kwargs[field.alias] = value
    if len(errors) != before:
        return None
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:  # pragma: no cover - every check above ran first
        errors.append(f"{path}: {exc}")
        return None


def _hyphenated_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36 and all(value[i] == "-" for i in (8, 13, 18, 23))


def _json_type(hint) -> str:
    origin = typing.get_origin(hint)
    if origin is dict or attr.has(hint):
        return "object"
    if origin is list:
        return "array"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "string"
    return _TYPE_NAMES.get(hint, "value")


def _convert(hint, value, where: str, errors: list[str]):
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = options[0] if len(options) == 1 else typing.Any
        origin = typing.get_origin(hint)
    if hint is typing.Any:
        return value
    if value is None:
        # `X | None` in the classes is the Python default; the spec makes no core property nullable.
        errors.append(f"{where}: None is not of type '{_json_type(hint)}'")
        return None
    if origin is dict:
        _key_type, item_type = typing.get_args(hint)
        if not isinstance(value, dict):
            errors.append(f"{where}: {_short(value)} is not of type 'object'")
            return None
        return {k: _convert(item_type, v, f"{where}.{k}", errors) for k, v in value.items()}
    if origin is list:
        (item_type,) = typing.get_args(hint)
        if not isinstance(value, list):
            errors.append(f"{where}: {_short(value)} is not of type 'array'")
            return None
        return [_convert(item_type, v, f"{where}[{i}]", errors) for i, v in enumerate(value)]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            errors.append(f"{where}: {_short(value)} is not one of {[m.value for m in hint]}")
            return None
    if attr.has(hint):
        return _structure(hint, value, where, errors)
    if hint in _TYPE_NAMES:
        ok = isinstance(value, hint) and not (hint is not bool and isinstance(value, bool))
        if not ok:
            errors.append(f"{where}: {_short(value)} is not of type '{_TYPE_NAMES[hint]}'")
            return None
    return value
