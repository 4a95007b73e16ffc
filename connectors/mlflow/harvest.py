"""The MLflow connector: pages of store facts for whatever changed on a tracking server since the cursor.

MLflow keeps no change feed and a run has no update time (a run gains metrics, tags, an end time and a
deletion without any stamp moving), so the cursor holds a short signature of every object as last stored,
and each harvest lists everything (MLflow's searches return whole runs, 1,000 a request: cheap) and maps,
reads metric histories for, and writes only the objects whose signature moved. The cursor is stored with
each page, so a harvest killed half-way resumes with what it had not stored yet, and a re-harvest of an
unchanged server writes nothing. Objects missing from a full listing were purged or deleted in MLflow:
their nodes are kept and marked deleted, and the edges that held them close.

One object MLflow will not give us (a run deleted between the listing and its metric history: 404; one the
token may not read: 403) is a warning on the harvest record, not the harvest's end: it is skipped, its
signature is not stored, and the next harvest tries it again.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Iterator
from urllib.parse import urlsplit

from connectors.base import Page
from connectors.mlflow import mapping
from connectors.mlflow.client import MlflowReader, ObjectGone

CURSOR_VERSION = 1
STREAMS = ("experiments", "runs", "logged_models", "models", "versions")
LOGGED_MODEL_URI = re.compile(r"^models:/(m-[0-9a-f]+)$")


def instance_of(tracking_uri: str) -> str:
    parts = urlsplit(tracking_uri)
    return parts.netloc or tracking_uri


class MlflowConnector:
    kind = "mlflow"

    def __init__(self, reader: MlflowReader, *, instance: str | None = None, batch: int = 200,
                 histories: bool = True, page_hook=None):
        self.reader = reader
        self.instance = instance or instance_of(reader.tracking_uri)
        self.keys = mapping.Keys(self.instance)
        self.batch = max(1, int(batch))
        self.histories = histories
        # Called with each Page before it is yielded (tests that kill a harvest half-way).
        self.page_hook = page_hook

    def source_key(self) -> str:
        return f"mlflow:{self.instance}"

    def changes_since(self, cursor: dict | None) -> Iterator[Page]:
        for page in self._pages(cursor):
            if self.page_hook:
                self.page_hook(page)
            yield page

    def _pages(self, cursor: dict | None) -> Iterator[Page]:
        cursor = dict(cursor or {})
        if cursor.get("v") != CURSOR_VERSION:
            cursor = {"v": CURSOR_VERSION}
        sigs = {name: dict(cursor.get(name) or {}) for name in STREAMS}

        def page(facts, read, warnings=()):
            # Copies per stream (the signatures are strings): the page's cursor must not move with later pages.
            return Page(facts, {"v": CURSOR_VERSION, **{name: dict(v) for name, v in sigs.items()}}, read,
                        warnings=list(warnings))

        # Experiments (deleted ones too: their runs are still listed).
        experiments = [mapping.experiment_body(e) for chunk in self.reader.experiments() for e in chunk]
        facts, changed = [], 0
        for body in experiments:
            if self._changed(sigs["experiments"], body["experiment_id"], body):
                facts += mapping.experiment_facts(self.keys, body)
                changed += 1
        facts += self._vanished(sigs["experiments"], {b["experiment_id"] for b in experiments}, "experiment",
                                self.keys.experiment)
        yield page(facts, {"experiments": len(experiments), "experiments_changed": changed})
        experiment_ids = [b["experiment_id"] for b in experiments]

        # Runs, with the step history of each metric of a run that changed.
        seen_runs: set[str] = set()
        for listing in self.reader.runs(experiment_ids):
            for chunk in _chunks(listing, self.batch):
                facts, warnings, read = [], [], {"runs": len(chunk), "runs_changed": 0, "metric_histories": 0}
                for run in chunk:
                    body = mapping.run_body(run)
                    seen_runs.add(body["run_id"])
                    sig = mapping.signature(body)
                    if sigs["runs"].get(body["run_id"]) == sig:
                        continue
                    try:
                        histories = self._histories(body, read)
                    except ObjectGone as exc:
                        warnings.append({"object": f"run {body['run_id']}", "reason": str(exc)})
                        continue
                    facts += mapping.run_facts(self.keys, body, histories)
                    sigs["runs"][body["run_id"]] = sig
                    read["runs_changed"] += 1
                yield page(facts, read, warnings)
        facts = self._vanished(sigs["runs"], seen_runs, "run", self.keys.run)

        # Logged models (MLflow 3): the files a run produced, which model versions register.
        logged: dict[str, dict] = {}
        changed = 0
        for listing in self.reader.logged_models(experiment_ids):
            for model in listing:
                body = mapping.logged_model_body(model)
                logged[body["model_id"]] = body
                if self._changed(sigs["logged_models"], body["model_id"], body):
                    facts += mapping.logged_model_facts(self.keys, body)
                    changed += 1
        facts += self._vanished(sigs["logged_models"], set(logged), "logged_model", self.keys.logged_model)
        yield page(facts, {"logged_models": len(logged), "logged_models_changed": changed})

        # Registered models; their aliases name versions.
        models = [mapping.registered_model_body(m) for chunk in self.reader.registered_models() for m in chunk]
        aliases: dict[tuple[str, str], list[str]] = {}
        facts, changed = [], 0
        for body in models:
            for alias, version in body["aliases"].items():
                aliases.setdefault((body["name"], version), []).append(alias)
            if self._changed(sigs["models"], body["name"], body):
                facts += mapping.registered_model_facts(self.keys, body)
                changed += 1
        facts += self._vanished(sigs["models"], {b["name"] for b in models}, "registered_model", self.keys.model)
        yield page(facts, {"registered_models": len(models), "registered_models_changed": changed})

        # Model versions.
        present: set[str] = set()
        for listing in self.reader.model_versions():
            for chunk in _chunks(listing, self.batch):
                facts, changed = [], 0
                for version in chunk:
                    body = mapping.model_version_body(version, aliases.get((version.name, str(version.version)), []))
                    ident = f"{body['name']}/{body['version']}"
                    present.add(ident)
                    source_model = LOGGED_MODEL_URI.match(body["source"])
                    model_id = body["model_id"] or (source_model.group(1) if source_model else "")
                    if self._changed(sigs["versions"], ident, {**body, "logged": logged.get(model_id)}):
                        facts += mapping.model_version_facts(self.keys, body, logged_model=logged.get(model_id))
                        changed += 1
                yield page(facts, {"model_versions": len(chunk), "model_versions_changed": changed})
        facts = self._vanished(sigs["versions"], present, "model_version",
                               lambda ident: self.keys.model_version(*ident.rsplit("/", 1)))
        yield page(facts, {})

    # -- parts ---------------------------------------------------------------------------------------------
    def _histories(self, body: dict, read: dict) -> dict[str, dict]:
        if not self.histories:
            return {}
        out = {}
        for key in sorted(body.get("metrics") or {}):
            out[key] = mapping.history_summary(self.reader.metric_history(body["run_id"], key))
            read["metric_histories"] += 1
        return out

    @staticmethod
    def _changed(stamps: dict, ident: str, body: dict) -> bool:
        sig = mapping.signature(body)
        if stamps.get(ident) == sig:
            return False
        stamps[ident] = sig
        return True

    def _vanished(self, stamps: dict, present: set, kind: str, key_of) -> list:
        """Objects stored before and missing from a full listing now: marked deleted, their edges closed."""
        from lineage import store
        from lineage.models import Edge

        facts = []
        now = dt.datetime.now(dt.timezone.utc)
        for ident in [i for i in stamps if i not in present]:
            del stamps[ident]
            key = key_of(ident)
            facts += mapping.deleted_facts(key, kind, ident, now)
            touching = Edge.objects.filter(valid_to__isnull=True, dst__source=key.source, dst__kind=key.kind,
                                           dst__source_id=key.source_id, kind__in=("contains", "produced"))
            for edge in touching.select_related("src"):
                facts.append(store.EdgeClose(edge.kind, store.NodeKey(edge.src.source, edge.src.kind, edge.src.source_id),
                                             key, at=now))
            held = Edge.objects.filter(valid_to__isnull=True, src__source=key.source, src__kind=key.kind,
                                       src__source_id=key.source_id, kind="version_of")
            for edge in held.select_related("dst"):
                facts.append(store.EdgeClose(edge.kind, key, store.NodeKey(edge.dst.source, edge.dst.kind,
                                                                           edge.dst.source_id), at=now))
        return facts


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]
