"""MLflow's own client (`MlflowClient`), called through the shared retry policy.

Why not MLflow's built-in retries: they wait up to minutes per request with their own backoff and hide which
failures were transient, so a harvest could neither report nor bound them. They are switched off for our
calls (MLFLOW_HTTP_REQUEST_MAX_RETRIES=0) and `connectors/retry.py` decides: 408/429/5xx and dropped
connections are retried, anything else is permanent (a bad token is a HarvestError at once).

MLflow reads its credentials and HTTP settings from the environment on every request, so a token given to
one connector is set for the duration of each of its calls only, under a lock, and never written anywhere.
"""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Callable, Iterator, TypeVar

import requests

from connectors.base import HarvestError
from connectors.retry import PERMANENT, TRANSIENT, RetryPolicy, call_with_retry

T = TypeVar("T")
_ENV_LOCK = threading.RLock()
TRANSIENT_STATUSES = {408, 429, 500, 502, 503, 504}


class ObjectGone(Exception):
    """One object answered 404/403 (deleted since it was listed, or not readable by this account)."""


def status_of(exc: BaseException) -> int | None:
    """The HTTP status behind an MLflow error, when there is one (its error code maps to one)."""
    from mlflow.exceptions import MlflowException

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, requests.exceptions.RetryError):
            # urllib3 with no retries left: "too many 503 error responses"
            text = str(exc)
            for code in TRANSIENT_STATUSES:
                if f"too many {code} error responses" in text:
                    return code
            return 503
        if isinstance(exc, MlflowException):
            text = str(exc)
            if "too many " in text and "error responses" in text:
                for code in TRANSIENT_STATUSES:
                    if f"too many {code} error responses" in text:
                        return code
            if exc.__context__ is None or not isinstance(exc.__context__, BaseException):
                return exc.get_http_status_code()
            inner = status_of(exc.__context__)
            return inner if inner is not None else exc.get_http_status_code()
        exc = exc.__cause__ or exc.__context__
    return None


def _connection_trouble(exc: BaseException) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                            ConnectionError, TimeoutError)):
            return True
        text = str(exc)
        if "Max retries exceeded" in text and ("NewConnectionError" in text or "Connection refused" in text
                                               or "RemoteDisconnected" in text or "timed out" in text):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def classify(exc: BaseException) -> str | None:
    from mlflow.exceptions import MlflowException

    if _connection_trouble(exc):
        return TRANSIENT
    if isinstance(exc, MlflowException):
        code = status_of(exc)
        return TRANSIENT if code in TRANSIENT_STATUSES else PERMANENT
    return None


class MlflowReader:
    """The calls the harvest and the write-back make, each retried by the shared policy."""

    def __init__(self, tracking_uri: str, *, token: str = "", timeout: float = 30.0,
                 policy: RetryPolicy = RetryPolicy(), page_size: int = 1000, sleep=None):
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.policy = policy
        self.page_size = max(1, int(page_size))
        self._sleep = sleep
        self.client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        self.calls = 0

    @contextlib.contextmanager
    def _env(self):
        values = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": str(int(max(1, self.timeout)))}
        if self.token:
            values["MLFLOW_TRACKING_TOKEN"] = self.token
        with _ENV_LOCK:
            saved = {name: os.environ.get(name) for name in values}
            os.environ.update(values)
            try:
                yield
            finally:
                for name, value in saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value

    def call(self, what: str, fn: Callable[[], T]) -> T:
        def once():
            self.calls += 1
            with self._env():
                return fn()

        kwargs = {"sleep": self._sleep} if self._sleep else {}
        return call_with_retry(once, classify=classify, policy=self.policy, what=f"MLflow {what}",
                               on_permanent=lambda exc: _permanent(what, exc, self.tracking_uri), **kwargs)

    def call_object(self, what: str, fn: Callable[[], T]) -> T:
        """One object's read: a 404/403 is that object's problem (ObjectGone), not the source's."""
        try:
            return self.call(what, fn)
        except HarvestError as exc:
            if getattr(exc, "status", None) in (403, 404):
                raise ObjectGone(str(exc)) from exc
            raise

    def pages(self, what: str, fn: Callable[[str | None], object]) -> Iterator[list]:
        """Every page of a paged MLflow search (`fn(page_token)` returns a PagedList)."""
        token = None
        while True:
            paged = self.call(what, lambda token=token: fn(token))
            yield list(paged)
            token = getattr(paged, "token", None)
            if not token:
                return

    # -- the listings -----------------------------------------------------------------------------------
    def experiments(self) -> Iterator[list]:
        from mlflow.entities import ViewType

        return self.pages("search_experiments", lambda t: self.client.search_experiments(
            view_type=ViewType.ALL, max_results=min(self.page_size, 1000), page_token=t,
            order_by=["creation_time ASC", "experiment_id ASC"]))

    def runs(self, experiment_ids: list[str]) -> Iterator[list]:
        from mlflow.entities import ViewType

        if not experiment_ids:
            return iter(())
        return self.pages("search_runs", lambda t: self.client.search_runs(
            experiment_ids, run_view_type=ViewType.ALL, max_results=min(self.page_size, 50000), page_token=t,
            order_by=["attributes.start_time ASC", "attributes.run_id ASC"]))

    def logged_models(self, experiment_ids: list[str]) -> Iterator[list]:
        if not experiment_ids:
            return iter(())
        return self.pages("search_logged_models", lambda t: self.client.search_logged_models(
            experiment_ids, max_results=min(self.page_size, 100), page_token=t))

    def registered_models(self) -> Iterator[list]:
        return self.pages("search_registered_models", lambda t: self.client.search_registered_models(
            max_results=min(self.page_size, 1000), page_token=t))

    def model_versions(self) -> Iterator[list]:
        return self.pages("search_model_versions", lambda t: self.client.search_model_versions(
            max_results=min(self.page_size, 10000), page_token=t))

    def metric_history(self, run_id: str, key: str) -> list:
        return self.call_object(f"get_metric_history {run_id}/{key}",
                                lambda: self.client.get_metric_history(run_id, key))


def _permanent(what: str, exc: BaseException, uri: str) -> HarvestError:
    status = status_of(exc)
    if _connection_trouble(exc):
        message = f"MLflow at {uri} cannot be reached ({what}): {exc}"
    elif status in (401,):
        message = f"MLflow at {uri} refused the credentials ({what}): check the token"
    else:
        message = f"MLflow {what} failed: {exc}"
    error = HarvestError(message)
    error.status = status
    return error
