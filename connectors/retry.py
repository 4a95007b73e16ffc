"""Retry with exponential backoff for source calls, shared by every connector.

Sources fail in two ways that need opposite handling: transient trouble (timeouts, dropped connections,
5xx, 429) goes away if we wait, while a wrong host, bad credentials or an unparseable payload never does.
Each connector passes a `classify(exc)` that says which is which; permanent failures become `HarvestError`
at once so an operator sees the real cause instead of a retry storm.
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

TRANSIENT = "transient"
PERMANENT = "permanent"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    # Full jitter keeps several harvesters from hammering a recovering server in lock-step.
    jitter: bool = True

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * (2 ** attempt))
        return random.uniform(0, ceiling) if self.jitter else ceiling


class RetriesExhausted(Exception):
    """A transient failure that outlasted every attempt; the last error is the cause."""


def call_with_retry(
    fn: Callable[[], T],
    *,
    classify: Callable[[BaseException], str | None],
    policy: RetryPolicy = RetryPolicy(),
    what: str = "call",
    sleep: Callable[[float], None] = time.sleep,
    on_permanent: Callable[[BaseException], BaseException] | None = None,
) -> T:
    """Call `fn()` until it succeeds, retrying only what `classify` calls transient.

    `classify` returns TRANSIENT, PERMANENT or None (not ours to judge: re-raised untouched).
    `on_permanent` turns a permanent error into the exception to raise (e.g. a HarvestError with a clear
    message).
    """
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            verdict = classify(exc)
            if verdict == PERMANENT:
                if on_permanent is not None:
                    raise on_permanent(exc) from exc
                raise
            if verdict != TRANSIENT:
                raise
            attempt += 1
            if attempt >= policy.attempts:
                raise RetriesExhausted(f"{what} failed {attempt} times; last error: {type(exc).__name__}: {exc}") from exc
            wait = policy.delay(attempt - 1)
            log.info("%s failed (%s: %s); retry %d/%d in %.2fs", what, type(exc).__name__, exc, attempt,
                     policy.attempts - 1, wait)
            sleep(wait)
