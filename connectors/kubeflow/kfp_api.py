"""Reading the KFP v2beta1 REST API through the `kfp` SDK's own client.

`kfp.Client` has no request timeout and a healthz probe that sleeps 5 s between five attempts; a harvester
needs both bounded and retried by its own policy, so `HarvestingClient` subclasses it and installs a
timeout, a JSON check and no hidden urllib3 retries on the SDK's HTTP pool. Everything else (paths,
parameters, token paging, model deserialisation) is the SDK's.
"""
from __future__ import annotations

import json
import logging
from typing import Callable, Iterator

import urllib3

from connectors.base import HarvestError
from connectors.retry import PERMANENT, TRANSIENT, RetryPolicy, call_with_retry
from connectors.kubeflow.mapping import PayloadError

log = logging.getLogger(__name__)
MAX_PAGE_SIZE = 200  # the API server clamps larger pages to 200


class UnparseablePayload(PayloadError):
    pass


def _install_http_guards(api_client, timeout: float) -> None:
    """Bound every request by `timeout`, leave retrying to us, and refuse non-JSON answers."""
    rest = api_client.rest_client
    if getattr(rest, "_ll_guarded", False):
        return
    pool = rest.pool_manager
    urlopen = pool.urlopen

    def bounded_urlopen(method, url, redirect=True, **kw):
        if kw.get("timeout") is None:
            kw["timeout"] = urllib3.Timeout(connect=timeout, read=timeout)
        kw["retries"] = urllib3.Retry(total=0, connect=0, read=0, redirect=3, status=0, raise_on_status=False,
                                      raise_on_redirect=True)
        return urlopen(method, url, redirect=redirect, **kw)

    pool.urlopen = bounded_urlopen
    request = rest.request

    def checked_request(method, url, *args, **kwargs):
        response = request(method, url, *args, **kwargs)
        try:
            body = json.loads(response.data or b"{}")
        except ValueError:
            raise UnparseablePayload(
                f"{method} {url.split('?')[0]} answered {response.status} with a body that is not JSON: "
                f"{response.data[:120]!r}"
            ) from None
        if not isinstance(body, dict):
            raise UnparseablePayload(f"{method} {url.split('?')[0]} answered a JSON {type(body).__name__}, not an object")
        return response

    rest.request = checked_request
    rest._ll_guarded = True


def _make_client_class():
    import kfp

    class HarvestingClient(kfp.Client):
        def __init__(self, *, timeout: float, retry: Callable, **kwargs):
            self._ll_timeout = timeout
            self._ll_retry = retry
            super().__init__(**kwargs)

        def get_kfp_healthz(self, sleep_duration: int = 5):
            _install_http_guards(self._healthz_api.api_client, self._ll_timeout)
            return self._ll_retry(self._healthz_api.healthz_service_get_healthz, "GET healthz")

    return HarvestingClient


def classify(exc: BaseException) -> str | None:
    import kfp_server_api

    if isinstance(exc, PayloadError):
        return PERMANENT
    if isinstance(exc, kfp_server_api.ApiException):
        status = exc.status or 0
        if status == 0:
            return PERMANENT  # the SDK could not parse what the server sent
        if status >= 500 or status in (408, 429):
            return TRANSIENT
        return PERMANENT
    if isinstance(exc, urllib3.exceptions.NameResolutionError):
        return PERMANENT
    if isinstance(exc, urllib3.exceptions.MaxRetryError):
        return classify(exc.reason) if exc.reason is not None else TRANSIENT
    if isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)):
        return TRANSIENT
    if isinstance(exc, (ValueError, TypeError)):
        return PERMANENT  # a model the SDK could not build from the payload
    return None


def explain(host: str):
    """A permanent API failure as the HarvestError an operator can act on."""
    import kfp_server_api

    def convert(exc: BaseException) -> HarvestError:
        inner = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason else exc
        if isinstance(exc, kfp_server_api.ApiException):
            status = exc.status or 0
            message = _rpc_message(exc)
            if status in (401, 403):
                return HarvestError(f"KFP API at {host} refused our credentials (HTTP {status}): {message}")
            if status == 404:
                return HarvestError(f"no KFP v2beta1 API at {host} (HTTP 404 {message}): wrong host or path?")
            if status == 0:
                return HarvestError(f"KFP API at {host} sent a payload the kfp SDK cannot parse: {exc.reason}")
            return HarvestError(f"KFP API at {host} rejected the request (HTTP {status}): {message}")
        if isinstance(inner, urllib3.exceptions.NameResolutionError):
            return HarvestError(f"KFP host {host} cannot be resolved: wrong host?")
        if isinstance(exc, PayloadError):
            return HarvestError(f"KFP API at {host}: {exc}")
        return HarvestError(f"KFP API at {host}: {type(exc).__name__}: {exc}")

    return convert


def _rpc_message(exc) -> str:
    try:
        body = json.loads(exc.body or b"{}")
        return str(body.get("message") or exc.reason)
    except (ValueError, AttributeError):
        return str(exc.reason)


def created_since_filter(created_at: str | None) -> str | None:
    if not created_at:
        return None
    return json.dumps({"predicates": [{"key": "created_at", "operation": "GREATER_THAN_EQUALS",
                                       "timestamp_value": created_at}]})


class KfpApiReader:
    """The KFP objects the connector needs, as JSON dicts (snake_case, RFC 3339 times) from the SDK models."""

    def __init__(self, host: str, *, token: str = "", namespace: str = "", timeout: float = 30.0,
                 retry_policy: RetryPolicy = RetryPolicy(), page_size: int = 100, verify_ssl: bool = True):
        self.host = host.rstrip("/")
        self.namespace = namespace or None
        self.page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        self._policy = retry_policy
        self._timeout = timeout
        self._token = token
        self._verify_ssl = verify_ssl
        self._client = None

    def _retry(self, fn, what: str):
        return call_with_retry(fn, classify=classify, policy=self._policy, what=f"{what} on {self.host}",
                               on_permanent=explain(self.host))

    @property
    def client(self):
        if self._client is None:
            cls = _make_client_class()
            kwargs = {"host": self.host, "timeout": self._timeout, "retry": self._retry, "verify_ssl": self._verify_ssl}
            if self._token:
                kwargs["existing_token"] = self._token
            if self.namespace:
                kwargs["namespace"] = self.namespace
            self._client = cls(**kwargs)
            _install_http_guards(self._client._run_api.api_client, self._timeout)
        return self._client

    def to_json(self, model) -> dict:
        return self.client._run_api.api_client.sanitize_for_serialization(model)

    def healthz(self) -> dict:
        return self.to_json(self.client.get_kfp_healthz())

    def _pages(self, call: Callable[[str], object], items_attr: str, what: str) -> Iterator[list[dict]]:
        token = ""
        while True:
            response = self._retry(lambda: call(token), what)
            items = getattr(response, items_attr, None) or []
            yield [self.to_json(item) for item in items]
            token = getattr(response, "next_page_token", "") or ""
            if not token:
                return

    def list_experiments(self, created_since: str | None = None) -> Iterator[list[dict]]:
        flt = created_since_filter(created_since)
        return self._pages(lambda t: self.client.list_experiments(
            page_token=t, page_size=self.page_size, sort_by="created_at", namespace=self.namespace, filter=flt),
            "experiments", "list experiments")

    def list_pipelines(self, created_since: str | None = None) -> Iterator[list[dict]]:
        flt = created_since_filter(created_since)
        return self._pages(lambda t: self.client.list_pipelines(
            page_token=t, page_size=self.page_size, sort_by="created_at", namespace=self.namespace, filter=flt),
            "pipelines", "list pipelines")

    def list_pipeline_versions(self, pipeline_id: str, created_since: str | None = None) -> Iterator[list[dict]]:
        flt = created_since_filter(created_since)
        return self._pages(lambda t: self.client.list_pipeline_versions(
            pipeline_id=pipeline_id, page_token=t, page_size=self.page_size, sort_by="created_at", filter=flt),
            "pipeline_versions", f"list versions of pipeline {pipeline_id}")

    def list_runs(self, created_since: str | None = None) -> Iterator[list[dict]]:
        flt = created_since_filter(created_since)
        return self._pages(lambda t: self.client.list_runs(
            page_token=t, page_size=self.page_size, sort_by="created_at", namespace=self.namespace, filter=flt),
            "runs", "list runs")

    def get_run(self, run_id: str) -> dict | None:
        """The run, or None when KFP no longer has it (deleted since we listed it)."""
        import kfp_server_api

        def call():
            try:
                return self.client.get_run(run_id)
            except kfp_server_api.ApiException as exc:
                if exc.status == 404:
                    return None
                if exc.status == 0:  # this one run's record cannot be parsed: its problem, not the API's
                    return exc
                raise

        run = self._retry(call, f"get run {run_id}")
        if isinstance(run, kfp_server_api.ApiException):
            raise PayloadError(f"run {run_id}: the kfp SDK cannot parse it: {run.reason}")
        return None if run is None else self.to_json(run)
