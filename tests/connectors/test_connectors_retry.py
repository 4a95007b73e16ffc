"""Retry with backoff: transient failures are retried with growing waits, permanent ones stop at once with the
operator-facing error, and exhausting the attempts says what failed and why."""
import pytest

from connectors.base import HarvestError
from connectors.retry import PERMANENT, TRANSIENT, RetriesExhausted, RetryPolicy, call_with_retry


class Flaky:
    def __init__(self, errors, result="ok"):
        self.errors = list(errors)
        self.calls = 0
        self.result = result

    def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.result


def classify(exc):
    if isinstance(exc, TimeoutError):
        return TRANSIENT
    if isinstance(exc, PermissionError):
        return PERMANENT
    return None


def test_transient_errors_are_retried_with_exponential_backoff():
    waits = []
    fn = Flaky([TimeoutError("t1"), TimeoutError("t2"), TimeoutError("t3")])
    policy = RetryPolicy(attempts=5, base_delay=0.5, max_delay=1.5, jitter=False)
    assert call_with_retry(fn, classify=classify, policy=policy, sleep=waits.append) == "ok"
    assert fn.calls == 4
    assert waits == [0.5, 1.0, 1.5]  # doubled each time, capped at max_delay


def test_jitter_stays_within_the_ceiling():
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0, jitter=True)
    for attempt in range(6):
        assert 0 <= policy.delay(attempt) <= min(4.0, 2 ** attempt)


def test_exhausted_attempts_name_the_call_and_the_last_error():
    fn = Flaky([TimeoutError(f"t{i}") for i in range(10)])
    with pytest.raises(RetriesExhausted, match=r"list runs failed 3 times; last error: TimeoutError: t2") as caught:
        call_with_retry(fn, classify=classify, policy=RetryPolicy(attempts=3), what="list runs", sleep=lambda s: None)
    assert isinstance(caught.value.__cause__, TimeoutError)
    assert fn.calls == 3


def test_permanent_errors_are_not_retried_and_can_be_explained():
    fn = Flaky([PermissionError("401")])
    with pytest.raises(HarvestError, match="bad token") as caught:
        call_with_retry(fn, classify=classify, sleep=lambda s: pytest.fail("slept"),
                        on_permanent=lambda exc: HarvestError(f"bad token ({exc})"))
    assert fn.calls == 1 and isinstance(caught.value.__cause__, PermissionError)


def test_unclassified_errors_pass_through_untouched():
    fn = Flaky([KeyError("x")])
    with pytest.raises(KeyError):
        call_with_retry(fn, classify=classify, sleep=lambda s: pytest.fail("slept"))
    assert fn.calls == 1
