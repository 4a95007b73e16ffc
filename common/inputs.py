"""Limits every JSON body meets before anything walks it, shared by the DRF parser and the OpenLineage ingest.

Why here and not in each view: a body nested a thousand levels deep makes Python's parser, the canonical
digest and every later walk recurse until RecursionError (a 500), and a lone UTF-16 surrogate (valid JSON:
"\\ud800") or a NUL character is accepted by SQLite and refused by PostgreSQL (or by the UTF-8 encoder) long
after the view answered "accepted". So the checks run once, at the edge, the same way on every database:

- nesting depth: counted on the raw bytes without recursion (`check_depth`), before `json.loads`;
- text: every key and string value is valid Unicode without NUL (`find_bad_text`, an explicit stack).

The depth limit (`JSON_MAX_DEPTH`, default 100) is far above what real producers send: OpenLineage events with
schema and column-lineage facets of nested Spark structs reach 15-30 levels.
"""
from __future__ import annotations

import json
import math
import re

from django.conf import settings

DEFAULT_MAX_DEPTH = 100

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_OPENERS = b"[{"
# Deletes every byte but the four brackets (bytes.translate with a delete table, in C).
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class BadInput(Exception):
    """A body no endpoint takes: `code` is the stable error code, `detail` says what to change."""

    def __init__(self, code: str, detail: str, status: int = 400):
        super().__init__(detail)
        self.code, self.detail, self.status = code, detail, status


def max_depth() -> int:
    return int(settings.JSON_MAX_DEPTH or DEFAULT_MAX_DEPTH)


def check_depth(raw: bytes | str, limit: int | None = None) -> None:
    """Raise BadInput("json_too_deep") when arrays/objects nest deeper than `limit` in this JSON text.

    Only brackets outside strings count: escapes are dropped first, then strings, then everything but the
    brackets, all in C (regex and translate); a body with fewer opening brackets than the limit is passed at
    once. Malformed JSON may be misjudged here; the parser refuses it next either way."""
    limit = limit or max_depth()
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if data.count(b"[") + data.count(b"{") <= limit:
        return
    brackets = _STRING.sub(b"", _ESCAPE.sub(b"", data)).translate(None, _NOT_BRACKETS)
    depth = 0
    for char in brackets:
        if char in _OPENERS:
            depth += 1
            if depth > limit:
                raise BadInput("json_too_deep", f"the JSON nests arrays and objects more than {limit} levels deep "
                                                f"(the limit, JSON_MAX_DEPTH)")
        else:
            depth -= 1


def _path(parent: str, key) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if _PLAIN_KEY.match(key) else f"{parent}[{key!r}]"


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which is not stored"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone UTF-16 surrogate such as \\ud800)"
    return None


def find_bad_text(value, root: str = "$") -> tuple[str, str] | None:
    """The first key or string (JSON path, problem) that is not storable text, or None. No recursion."""
    stack = [(root, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                return path, problem
        elif isinstance(item, dict):
            for key, child in item.items():
                problem = _text_problem(key) if isinstance(key, str) else None
                if problem:
                    return f"{path} key {_safe(key)}", problem
                stack.append((_path(path, _safe(key)), child))
        elif isinstance(item, list):
            stack.extend((_path(path, i), child) for i, child in enumerate(item))
    return None


def _safe(key):
    """A key fit to print in an error message (a bad key is shown with its bad characters escaped)."""
    if isinstance(key, str) and _text_problem(key):
        return key.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000")
    return key


def check_text(value, root: str = "$") -> None:
    bad = find_bad_text(value, root)
    if bad is not None:
        path, problem = bad
        code = "nul_character" if "NUL" in problem else "invalid_unicode"
        raise BadInput(code, f"{path} {problem}", status=400)


def has_bad_text_escape(raw: bytes) -> bool:
    """Whether a JSON text may decode to NUL or surrogate characters: only the \\u0000 and \\uD800-\\uDFFF
    escapes can (raw NULs are invalid JSON, and UTF-8 cannot encode surrogates). Lets big bodies skip the walk."""
    return bool(_SUSPECT_ESCAPE.search(raw))


_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


class NotFiniteNumber(ValueError):
    """NaN, Infinity or a number too large for a double: Python's json module accepts them, JSON does not,
    and PostgreSQL's jsonb refuses them where SQLite stores them."""


def _no_constant(name: str):
    raise NotFiniteNumber(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotFiniteNumber(f"the number {text[:40]} is too large to keep")
    return value


def loads(text):
    """json.loads refusing what is not JSON or not storable alike on every database (NaN, Infinity, 1e400)."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
