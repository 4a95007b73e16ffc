"""The project's django-filter backend: the same filtering, plus the two refusals django-filter leaves to
the database, and errors keyed to the query parameter the caller actually sent.

- A number beyond a 64-bit integer (`?src=99999999999999999999`) passes the form and then fails inside the
  query: SQLite raises OverflowError, PostgreSQL "out of range" (a 500 either way). Refused here as a 400.
- A range filter (`first_seen_after` / `first_seen_before`) reports a bad bound under the filter's own name
  (`first_seen`), which is not a parameter anyone sent; the error is keyed to the bound that failed.
"""
from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django_filters import utils
from django_filters.rest_framework import DjangoFilterBackend

BIGINT = 2 ** 63 - 1


class BoundedFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        return filtered(filterset, request.query_params)


def filtered(filterset, params):
    """The filterset's queryset, or the 400 (DRF ValidationError) the backend answers for its params: what a
    view that applies a filterset itself (the model registry, its dashboard page) calls too."""
    if not filterset.is_valid():
        raise utils.translate_validation(_rekeyed(filterset, params))
    too_big = _too_big(filterset.form.cleaned_data)
    if too_big:
        raise utils.translate_validation(_as_error_dict(too_big))
    return filterset.qs


def _too_big(cleaned: dict) -> dict:
    problems = {}
    for name, value in cleaned.items():
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            continue
        if isinstance(value, Decimal) and not value.is_finite():
            problems[name] = ["Enter a finite number."]
        elif abs(value) > BIGINT:
            problems[name] = [f"Enter a number between -{BIGINT} and {BIGINT}."]
    return problems


def _as_error_dict(problems: dict):
    from django.forms.utils import ErrorDict, ErrorList

    return ErrorDict({name: ErrorList([ValidationError(m) for m in messages]) for name, messages in problems.items()})


def _rekeyed(filterset, params):
    """The form's errors, with a range filter's error moved to the bound(s) whose value is bad."""
    from django.forms.utils import ErrorDict, ErrorList

    errors = ErrorDict(filterset.errors)
    for name in list(errors):
        field = filterset.form.fields.get(name)
        suffixes = getattr(getattr(field, "widget", None), "suffixes", None)
        if name in params or not suffixes or not hasattr(field, "fields"):
            continue
        moved = {}
        for suffix, sub in zip(suffixes, field.fields):
            param = f"{name}_{suffix}" if suffix else name
            if param not in params:
                continue
            try:
                sub.clean(params.get(param))
            except ValidationError as exc:
                moved[param] = ErrorList(exc.error_list)
        if moved:
            del errors[name]
            errors.update(moved)
    return errors
