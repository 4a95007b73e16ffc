"""The project's JSON parser for DRF views: the limits of common.inputs (nesting depth, NUL, invalid
Unicode) applied before a serializer sees the data, so every write endpoint refuses such bodies with a 400
naming the limit instead of failing later (a 500, or a database that answers differently from SQLite)."""
from __future__ import annotations

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from common import inputs


class BadJSONInput(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_input"

    def __init__(self, exc: inputs.BadInput):
        super().__init__(exc.detail, exc.code)
        self.status_code = exc.status
        self.default_code = exc.code


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            inputs.check_depth(raw)
            try:
                text = raw.decode(encoding)
            except (UnicodeDecodeError, LookupError):
                raise ParseError("The body is not UTF-8 text.", "malformed_json") from None
            try:
                data = inputs.loads(text)
            except inputs.NotFiniteNumber as exc:
                raise ParseError(f"The body is not valid JSON: {exc}.", "malformed_json") from None
            except RecursionError:
                raise ParseError("The JSON nests arrays and objects too deeply.", "json_too_deep") from None
            except ValueError as exc:
                line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
                where = f" at line {line} column {column}" if line else ""
                raise ParseError(f"The body is not valid JSON{where}.", "malformed_json") from None
            inputs.check_text(data)
        except inputs.BadInput as exc:
            raise BadJSONInput(exc) from None
        return data
