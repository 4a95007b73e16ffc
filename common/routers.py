"""One API shape for every app: resources resolve with and without their trailing slash, and one API root
(`GET /api/`) lists every resource of every app.

DRF 3.18's DefaultRouter turns any `trailing_slash` argument into "/" (it takes a boolean), so the pattern
is set after construction; and a DefaultRouter per app would register one root view per app at the same
path, where only the first answers. Apps therefore make their routers with `api_router()` (no root view of
its own) and governance/urls.py mounts `api_root_view()` once, after every app's routes are imported."""
from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.routers import APIRootView, DefaultRouter

_ROUTERS: list[DefaultRouter] = []


def api_router() -> DefaultRouter:
    router = DefaultRouter()
    router.trailing_slash = "/?"
    router.include_root_view = False
    router.include_format_suffixes = False
    _ROUTERS.append(router)
    return router


def slash_optional(route: str, view, name: str) -> list:
    """A non-router route (`audit/verify/`) that also answers without its trailing slash, as router routes
    do; the name and the OpenAPI description belong to the canonical, slashed form."""
    cls = view.view_class
    bare_cls = extend_schema(exclude=True)(type(cls.__name__, (cls,), {"__module__": cls.__module__,
                                                                       "__doc__": cls.__doc__}))
    return [path(route, view, name=name), path(route.rstrip("/"), bare_cls.as_view(**view.view_initkwargs))]


class _ApiRoot(APIRootView):
    """The links in their canonical, slashed form (a reversed "/?" pattern drops the slash)."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response.data = {name: url if url.endswith("/") else url + "/" for name, url in response.data.items()}
        return response


def api_root_view():
    """The root listing every resource registered through `api_router()` so far."""
    listing = {}
    for router in _ROUTERS:
        for prefix, _viewset, basename in router.registry:
            listing[prefix] = f"{basename}-list"
    return _ApiRoot.as_view(api_root_dict=dict(sorted(listing.items())))
