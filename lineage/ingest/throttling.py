"""Per-token rate limit on the OpenLineage ingest endpoints (setting `INGEST_RATE_LIMIT`).

A producer stuck in a retry loop must not crowd out the others, so each caller gets its own budget.
A caller may hold several API tokens (and a service account an OIDC access token), so the budget is
keyed by the user id: per caller, without putting token secrets into cache keys (Redis keys are
readable by anyone with access to Redis).

The history lives in Django's cache. The default LocMemCache is per process: with several gunicorn
workers each worker would count on its own and a caller would get workers × the limit. Deployments
with more than one worker process set `CACHE_URL=redis://…` so the workers share one count.

Reading the rate from settings on each request (not once at import, as DRF's `THROTTLE_RATES` does)
lets an operator's override, and the tests' `settings` fixture, take effect without a restart.
"""
from __future__ import annotations

import math

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import SimpleRateThrottle


class IngestRateThrottle(SimpleRateThrottle):
    scope = "ingest"

    def get_rate(self):
        rate = getattr(settings, "INGEST_RATE_LIMIT", "") or ""
        rate = str(rate).strip()
        if rate in ("", "0"):
            return None  # off: allow_request() answers True without touching the cache
        return rate

    def parse_rate(self, rate):
        if rate is None:
            return (None, None)
        try:
            num, period = rate.split("/")
            return int(num), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period.strip()[0].lower()]
        except (ValueError, KeyError, IndexError):
            raise ValueError(
                f"INGEST_RATE_LIMIT={rate!r} is not a rate: use N/second, N/minute, N/hour or N/day (0 = off)"
            ) from None

    def get_cache_key(self, request, view):
        if request.method in SAFE_METHODS:
            return None  # the Marquez read shares the view; only ingesting is limited
        user = request.user
        if not (user and user.is_authenticated):
            return None  # anonymous callers never reach ingest (401 first); nothing to count
        return self.cache_format % {"scope": self.scope, "ident": user.pk}

    def wait(self):
        """Whole seconds until the oldest counted request leaves the window, at least 1 (a Retry-After
        of 0 would invite an immediate retry that is refused again)."""
        oldest = self.history[-1] if self.history else self.now
        return max(1, math.ceil(self.duration - (self.now - oldest)))
