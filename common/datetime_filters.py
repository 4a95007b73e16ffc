"""ISO 8601 date-time filters whose values every database accepts.

Python parses offsets up to ±23:59 (`2025-01-01T00:00:00-17:05`), PostgreSQL refuses any beyond ±15:59 and
the query fails as a 500. The fields here turn every parsed value into UTC first, so the database always
sees +00:00; a value that has no UTC equivalent (year 1 with an eastern offset) is a 400 like any other
malformed date. Use these instead of django_filters.IsoDateTimeFilter / IsoDateTimeFromToRangeFilter.
"""
from __future__ import annotations

import datetime as dt

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField, IsoDateTimeRangeField, RangeField


class UTCIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(dt.timezone.utc)
        except OverflowError:
            raise ValidationError(f"{value!r} has no UTC equivalent in the supported date range",
                                  code="invalid") from None


class UTCIsoDateTimeRangeField(IsoDateTimeRangeField):
    def __init__(self, *args, **kwargs):
        RangeField.__init__(self, (UTCIsoDateTimeField(), UTCIsoDateTimeField()), *args, **kwargs)


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


class IsoDateTimeFromToRangeFilter(django_filters.IsoDateTimeFromToRangeFilter):
    field_class = UTCIsoDateTimeRangeField
