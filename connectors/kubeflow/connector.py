"""The Kubeflow connector: KFP API and ML Metadata, harvested incrementally into the lineage store.

One cursor (per instance + source pair) holds one position per stream:
    api.experiments / api.pipelines / api.versions / api.runs   {"created_at", "id"} keyset on creation time
    api.open_runs                                               runs not yet final last time: re-read each harvest
    mlmd.executions / mlmd.artifacts                            [last_update_ms, id] keyset
A run is listed once by creation time and then re-read by id until it reaches a final state, which is how a
run that finished since the last harvest gets updated without re-listing everything. Every page's facts
and the cursor after it commit together (connectors.base.run_harvest), so a killed harvest resumes at the
last committed page, and since facts are idempotent a page applied twice changes nothing.

A partitioned harvest (connectors.tasks) lists the executions' keysets once (`execution_positions`), maps
chunks of them on any worker (`execution_pages`) and runs the other streams with the executions left to
those partitions (`leave_executions_to_partitions`); the executions position then moves in the task layer.
"""
from __future__ import annotations

import copy
from typing import Iterator

from connectors.base import HarvestError, Page
from connectors.kubeflow import mapping
from connectors.kubeflow.kfp_api import KfpApiReader
from connectors.kubeflow.metadata import MetadataReader, MlmdReader
from connectors.retry import PERMANENT, TRANSIENT, RetryPolicy, call_with_retry

OPEN_RUNS_PER_PAGE = 50
# Beyond this many, artefacts the executions stream mapped are mapped again by the artefacts stream:
# idempotent, a little slower, and memory stays flat however big the store is.
MAX_REMEMBERED_ARTIFACTS = 200_000


def _after(item: dict, id_field: str, position: dict | None) -> bool:
    """True when `item` sorts after the cursor position (created_at, id)."""
    if not position:
        return True
    created = mapping.iso(mapping.parse_time(item.get("created_at"))) or ""
    return (created, str(item.get(id_field))) > (position.get("created_at") or "", position.get("id") or "")


def _position(item: dict, id_field: str) -> dict:
    return {"created_at": mapping.iso(mapping.parse_time(item.get("created_at"))) or "", "id": str(item.get(id_field))}


def classify_mlmd(exc: BaseException) -> str | None:
    from ml_metadata import errors

    if isinstance(exc, (errors.UnavailableError, errors.DeadlineExceededError, errors.AbortedError,
                        errors.ResourceExhaustedError)):
        return TRANSIENT
    if isinstance(exc, errors.StatusError):
        return PERMANENT
    return None


class KubeflowConnector:
    kind = "kubeflow"

    def __init__(self, *, instance: str = "kubeflow", api: KfpApiReader | None = None,
                 metadata: MetadataReader | None = None, page_size: int = 200,
                 retry_policy: RetryPolicy = RetryPolicy(), page_hook=None):
        if api is None and metadata is None:
            raise ValueError("a Kubeflow connector needs a KFP API host, an ML Metadata source, or both")
        self.instance = instance
        self.api = api
        self.metadata = metadata
        self.page_size = page_size
        self.keys = mapping.Keys(instance)
        self.retry_policy = retry_policy
        # Called with each Page before it is yielded (progress, tests that kill a harvest mid-way).
        self.page_hook = page_hook
        # Artefacts (id -> update time) already mapped by the executions stream of this harvest: the
        # artefacts stream skips them unless they changed since (it exists for later updates).
        self._mapped_artifacts: dict[int, int] = {}
        # Set by `leave_executions_to_partitions`: the executions partitions of a partitioned harvest map
        # these execution ids (up to this keyset position), so this connector's own streams do not.
        self._partitioned_executions: tuple[set[int], tuple[int, int] | None] | None = None
        # Set by `leave_runs_to_partitions`: the runs partitions of a partitioned harvest hold the runs listing.
        self._runs_partitioned = False

    @classmethod
    def from_settings(cls, settings: dict, secrets: dict | None = None, **kwargs) -> "KubeflowConnector":
        secrets = secrets or {}
        policy = RetryPolicy(attempts=int(settings.get("retry_attempts", 5)),
                             base_delay=float(settings.get("retry_base_delay", 0.5)),
                             max_delay=float(settings.get("retry_max_delay", 30.0)))
        api = None
        if settings.get("kfp_host"):
            api = KfpApiReader(settings["kfp_host"], token=secrets.get("kfp_token", ""),
                               namespace=settings.get("namespace", ""), timeout=float(settings.get("timeout", 30)),
                               retry_policy=policy, page_size=int(settings.get("api_page_size", 100)),
                               verify_ssl=bool(settings.get("verify_ssl", True)))
        metadata = None
        if any(settings.get(k) for k in ("mlmd_host", "mlmd_sqlite", "mlmd_mysql_host", "mlmd_postgres_host")):
            metadata = _open_mlmd(settings, secrets, policy)
        return cls(instance=settings.get("instance") or "kubeflow", api=api, metadata=metadata,
                   page_size=int(settings.get("mlmd_page_size", 200)), retry_policy=policy, **kwargs)

    def source_key(self) -> str:
        parts = [f"kubeflow:{self.instance}", self.api.host if self.api else "-",
                 self.metadata.identity() if self.metadata else "-"]
        return "|".join(parts)[:255]

    # -- the harvest --------------------------------------------------------------------------------------
    def changes_since(self, cursor: dict | None) -> Iterator[Page]:
        state = copy.deepcopy(cursor or {})
        state.setdefault("api", {})
        state.setdefault("mlmd", {})
        streams = []
        if self.api is not None:
            self.api.healthz()  # fails fast with a clear error on a wrong host or bad credentials
            streams += [self._experiments, self._pipelines, self._runs, self._open_runs]
        if self.metadata is not None:
            streams += [self._executions, self._artifacts]
        for stream in streams:
            for page in stream(state):
                page.cursor = copy.deepcopy(state)
                if self.page_hook:
                    self.page_hook(page)
                yield page

    def _keyset(self, state, name, pages, id_field, to_facts, read_name):
        for items in pages:
            position = state["api"].get(name)
            fresh = [i for i in items if _after(i, id_field, position)]
            if not fresh and not items:
                continue
            facts = []
            for item in fresh:
                facts += to_facts(self.keys, item)
            if fresh:
                state["api"][name] = max((_position(i, id_field) for i in fresh),
                                         key=lambda p: (p["created_at"], p["id"]))
            yield Page(facts=facts, cursor={}, read={read_name: len(fresh)}), fresh

    def _experiments(self, state):
        since = (state["api"].get("experiments") or {}).get("created_at")
        for page, _ in self._keyset(state, "experiments", self.api.list_experiments(since), "experiment_id",
                                    mapping.experiment_facts, "experiments"):
            yield page

    def _pipelines(self, state):
        # New versions appear under old pipelines, so every pipeline is listed (they are few) and only
        # versions created since the version cursor are read.
        version_since = (state["api"].get("versions") or {}).get("created_at")
        for pipelines in self.api.list_pipelines(None):
            position = state["api"].get("pipelines")
            facts, read = [], {"pipelines": 0, "pipeline_versions": 0}
            new_version_positions = []
            for pipeline in pipelines:
                if _after(pipeline, "pipeline_id", position):
                    facts += mapping.pipeline_facts(self.keys, pipeline)
                    read["pipelines"] += 1
                for versions in self.api.list_pipeline_versions(pipeline["pipeline_id"], version_since):
                    for version in versions:
                        if _after(version, "pipeline_version_id", state["api"].get("versions")):
                            facts += mapping.version_facts(self.keys, version)
                            new_version_positions.append(_position(version, "pipeline_version_id"))
                            read["pipeline_versions"] += 1
            fresh = [p for p in pipelines if _after(p, "pipeline_id", position)]
            if fresh:
                state["api"]["pipelines"] = max((_position(p, "pipeline_id") for p in fresh),
                                                key=lambda p: (p["created_at"], p["id"]))
            if facts:
                yield Page(facts=facts, cursor={}, read=read)
            if new_version_positions:
                # Versions are read per pipeline, so the version cursor only advances once every pipeline
                # on the page has been read: held back in a pending slot until the stream ends.
                pending = state["api"].setdefault("_versions_pending", None)
                best = max(new_version_positions, key=lambda p: (p["created_at"], p["id"]))
                if not pending or (best["created_at"], best["id"]) > (pending["created_at"], pending["id"]):
                    state["api"]["_versions_pending"] = best
        if state["api"].get("_versions_pending"):
            state["api"]["versions"] = state["api"].pop("_versions_pending")
            yield Page(facts=[], cursor={}, read={})
        state["api"].pop("_versions_pending", None)

    def leave_runs_to_partitions(self) -> None:
        """Switch the runs listing off: a partitioned harvest's runs partitions read those runs."""
        self._runs_partitioned = True

    def _runs(self, state):
        if self._runs_partitioned:
            return
        since = (state["api"].get("runs") or {}).get("created_at")
        for page, fresh in self._keyset(state, "runs", self.api.list_runs(since), "run_id", mapping.run_facts, "runs"):
            opened = set(state["api"].get("open_runs") or [])
            for run in fresh:
                if (run.get("state") or "") not in mapping.FINAL_RUN_STATES:
                    opened.add(run["run_id"])
                else:
                    opened.discard(run["run_id"])
            state["api"]["open_runs"] = sorted(opened)
            yield page

    def _open_runs(self, state):
        """Re-read runs that were still going last time; drop them from the list once final."""
        pending = list(state["api"].get("open_runs") or [])
        for start in range(0, len(pending), OPEN_RUNS_PER_PAGE):
            chunk = pending[start:start + OPEN_RUNS_PER_PAGE]
            facts, closed, warnings = [], set(), []
            for run_id in chunk:
                try:
                    run = self.api.get_run(run_id)
                    if run is None:  # deleted in KFP before it finished: say so, and stop asking
                        facts += mapping.deleted_run_facts(self.keys, run_id)
                        closed.add(run_id)
                        continue
                    facts += mapping.run_facts(self.keys, run)
                except mapping.PayloadError as exc:  # one malformed run: skipped, kept open, read next time
                    warnings.append({"object": f"run {run_id}", "reason": str(exc)})
                    continue
                if (run.get("state") or "") in mapping.FINAL_RUN_STATES:
                    closed.add(run_id)
            state["api"]["open_runs"] = sorted(set(state["api"].get("open_runs") or []) - closed)
            yield Page(facts=facts, cursor={}, read={"runs_refreshed": len(chunk)}, warnings=warnings)

    def _mlmd(self, fn, what):
        return call_with_retry(fn, classify=classify_mlmd, policy=self.retry_policy, what=what,
                               on_permanent=lambda exc: HarvestError(
                                   f"ML Metadata at {self.metadata.identity()}: {type(exc).__name__}: {exc}"))

    # -- a partitioned harvest (connectors.tasks) ---------------------------------------------------------
    def execution_positions(self, after) -> list[tuple[int, int]]:
        """(updated_ms, id) of every execution after the keyset position `after`, in keyset order."""
        return self._mlmd(lambda: self.metadata.execution_positions_after(tuple(after) if after else None),
                          "list ML Metadata executions")

    def execution_pages(self, ids: list[int]) -> Iterator[Page]:
        """Pages of the executions stream for exactly these executions (one partition of a harvest): the same
        batches (events, the artefacts they touch, parents, raw records), mapped the same way. No cursor:
        the harvest moves the executions position itself once every partition has landed."""
        for start in range(0, len(ids), self.page_size):
            chunk = ids[start:start + self.page_size]
            batch = self._mlmd(lambda: self.metadata.execution_batch_by_ids(chunk), "read ML Metadata executions")
            if not batch.executions:  # none of them exists any more
                continue
            yield Page(facts=mapping.execution_facts(self.keys, batch), cursor={},
                       read={"executions": len(batch.executions), "events": len(batch.events),
                             "artifacts": len(batch.artifacts)})

    def leave_executions_to_partitions(self, after, upto) -> None:
        """Switch the executions stream off (partitions map them) and, in the artefacts stream, skip the
        artefacts those partitions map, as the classic harvest skips the ones its executions stream mapped:
        touched by one of the executions in (after, upto] and last updated before `upto`'s time (ML
        Metadata's own clock), so not since the plan listed the executions and every partition reads them
        as they are now. An artefact updated later is mapped again: the same fact or a newer one, never a
        lost one. One listing of the executions finds them."""
        ids = {ident for ms, ident in self.execution_positions(after) if (ms, ident) <= tuple(upto)} if upto else set()
        self._partitioned_executions = (ids, tuple(upto) if upto else None)

    def _executions(self, state):
        if self._partitioned_executions is not None:
            return
        while True:
            after = state["mlmd"].get("executions")
            batch = self._mlmd(lambda: self.metadata.execution_batch(tuple(after) if after else None, self.page_size),
                               "read ML Metadata executions")
            if not batch.executions:
                return
            facts = mapping.execution_facts(self.keys, batch)
            if len(self._mapped_artifacts) < MAX_REMEMBERED_ARTIFACTS:  # bounded memory on any source size
                self._mapped_artifacts.update((a.id, a.updated_ms) for a in batch.artifacts.values())
            last = batch.executions[-1]
            state["mlmd"]["executions"] = [last.updated_ms, last.id]
            yield Page(facts=facts, cursor={}, read={"executions": len(batch.executions), "events": len(batch.events),
                                                     "artifacts": len(batch.artifacts)})
            if len(batch.executions) < self.page_size:
                return

    def _artifacts(self, state):
        while True:
            after = state["mlmd"].get("artifacts")
            artifacts = self._mlmd(lambda: self.metadata.artifacts_after(tuple(after) if after else None, self.page_size),
                                   "read ML Metadata artifacts")
            if not artifacts:
                return
            facts, changed = [], 0
            mapped_elsewhere = self._mapped_by_partitions(artifacts)
            for artifact in artifacts:
                if self._mapped_artifacts.get(artifact.id) == artifact.updated_ms or artifact.id in mapped_elsewhere:
                    continue
                changed += 1
                facts += mapping.artifact_facts(self.keys, artifact)
            state["mlmd"]["artifacts"] = [artifacts[-1].updated_ms, artifacts[-1].id]
            yield Page(facts=facts, cursor={}, read={"artifacts_updated": changed})
            if len(artifacts) < self.page_size:
                return

    def _mapped_by_partitions(self, artifacts) -> set[int]:
        """Artefacts on this page that an executions partition of this harvest maps (see
        `leave_executions_to_partitions`): one events call per page."""
        if not self._partitioned_executions or not self._partitioned_executions[0]:
            return set()
        executions, upto = self._partitioned_executions
        candidates = [a.id for a in artifacts if a.updated_ms < upto[0]]
        touching = self._mlmd(lambda: self.metadata.executions_touching(candidates), "read ML Metadata events")
        return {artifact for artifact, by in touching.items() if by & executions}


def _open_mlmd(settings: dict, secrets: dict, policy: RetryPolicy) -> MlmdReader:
    """The reader connects lazily, on its first read inside the harvest, so connection errors are recorded."""
    return MlmdReader.from_settings(settings, secrets)
