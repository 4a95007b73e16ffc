"""Harvested Kubeflow runs as OpenLineage events, sent with `openlineage-python` to `OPENLINEAGE_URL`.

Events are built from the lineage store, not from the sources, so what a Marquez or DataHub downstream sees
is exactly what we recorded: one event for the pipeline run, one per task with a ParentRunFacet naming its
parent DAG run (and the pipeline run as root), task inputs and outputs as datasets named after their URIs
(OpenLineage naming: `scheme://bucket` namespace, path as name), and model artefacts carrying a custom
`kubeflow_model` facet (model name, URI, digest, framework) that no standard facet holds.
"""
from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlparse

import attr
from django.conf import settings
from django.db.models import Q

from lineage.kinds import EdgeKind, NodeKind, Source
from lineage.models import Edge, Node, NodeRevision

PRODUCER = "https://github.com/lineage-ledger/lineage-ledger/connectors/kubeflow"
MODEL_FACET_SCHEMA = "https://lineage-ledger.example/spec/facets/1-0-0/KubeflowModelFacet.json#/$defs/KubeflowModelFacet"
RUN_ID_NAMESPACE = uuid.UUID("0d5c2b8e-8f0e-4b7a-9a59-3d1f6f4c2a11")
EVENT_TYPE = {"SUCCEEDED": "COMPLETE", "COMPLETE": "COMPLETE", "CACHED": "COMPLETE", "FAILED": "FAIL",
              "CANCELED": "ABORT", "CANCELING": "RUNNING", "RUNNING": "RUNNING", "PENDING": "START", "NEW": "START",
              "SKIPPED": "COMPLETE", "PAUSED": "RUNNING"}


def _model_facet_class():
    from openlineage.client.generated.base import DatasetFacet

    @attr.define
    class KubeflowModelFacet(DatasetFacet):
        """A model produced by a KFP task: what a registry needs to recognise the same model elsewhere."""

        modelName: str
        uri: str
        digest: str = attr.field(default="")
        framework: str = attr.field(default="")
        mlmdArtifactId: int = attr.field(default=0)

        @staticmethod
        def _get_schema() -> str:
            return MODEL_FACET_SCHEMA

    return KubeflowModelFacet


def run_uuid(node: Node) -> str:
    """OpenLineage run ids are UUIDs: KFP run ids already are; executions get a stable UUIDv5."""
    run_id = node.properties.get("run_id") if node.properties.get("kfp_kind") == "run" else None
    if run_id:
        try:
            return str(uuid.UUID(str(run_id)))
        except ValueError:
            pass
    return str(uuid.uuid5(RUN_ID_NAMESPACE, node.source_id))


def dataset_name(node: Node) -> tuple[str, str]:
    uri = node.properties.get("uri") or node.name
    parsed = urlparse(uri)
    if parsed.scheme and parsed.netloc:
        return f"{parsed.scheme}://{parsed.netloc}", parsed.path.lstrip("/") or "/"
    if parsed.scheme:
        return f"{parsed.scheme}://", parsed.path
    return f"kubeflow://{node.namespace or 'default'}", uri


def _time(node: Node, *names) -> str:
    for name in names:
        if node.properties.get(name):
            return node.properties[name]
    return node.last_seen.astimezone(dt.timezone.utc).isoformat()


class EventBuilder:
    def __init__(self, instance: str):
        from openlineage.client import event_v2
        from openlineage.client.facet_v2 import parent_run

        self.ev = event_v2
        self.parent_run = parent_run
        self.namespace = f"kubeflow://{instance}"
        self.model_facet = _model_facet_class()

    def pipeline_job_name(self, run: Node) -> str:
        return run.properties.get("pipeline_name") or run.display_name or run.name

    def for_run(self, run: Node) -> list:
        """Events for one pipeline run and all its tasks, parents before children."""
        job = self.pipeline_job_name(run)
        events = [self._event(run, job, parent=None, root=None, tasks=False)]
        root = (run, job)
        frontier = [(run, job)]
        seen = {run.pk}
        while frontier:
            parent, parent_job = frontier.pop(0)
            children = [e.dst for e in Edge.objects.filter(src=parent, kind=EdgeKind.PARENT_OF, valid_to__isnull=True,
                                                          dst__kind=NodeKind.RUN).select_related("dst").order_by("dst_id")]
            for child in children:
                if child.pk in seen:
                    continue
                seen.add(child.pk)
                task_job = f"{job}.{child.properties.get('task_name') or child.display_name or child.pk}"
                events.append(self._event(child, task_job, parent=(parent, parent_job), root=root, tasks=True))
                frontier.append((child, task_job))
        return events

    def _event(self, node: Node, job_name: str, *, parent, root, tasks: bool):
        ev = self.ev
        facets = {}
        if parent is not None:
            p_node, p_job = parent
            r_node, r_job = root
            facets["parent"] = self.parent_run.ParentRunFacet(
                run=self.parent_run.Run(runId=run_uuid(p_node)),
                job=self.parent_run.Job(namespace=self.namespace, name=p_job),
                root=self.parent_run.Root(run=self.parent_run.RootRun(runId=run_uuid(r_node)),
                                          job=self.parent_run.RootJob(namespace=self.namespace, name=r_job)),
            )
        state = node.properties.get("state") or node.properties.get("mlmd_state") or ""
        inputs, outputs = ([], []) if not tasks else self._io(node)
        return ev.RunEvent(
            eventType=getattr(ev.RunState, EVENT_TYPE.get(state, "OTHER")),
            eventTime=_time(node, "finished_at", "updated_at", "created_at"),
            run=ev.Run(runId=run_uuid(node), facets=facets),
            job=ev.Job(namespace=self.namespace, name=job_name),
            inputs=inputs, outputs=outputs, producer=PRODUCER,
        )

    def _io(self, task: Node):
        ev = self.ev
        inputs, outputs = [], []
        for edge in Edge.objects.filter(dst=task, valid_to__isnull=True,
                                        kind__in=[EdgeKind.CONSUMED, EdgeKind.REUSED_FROM_CACHE]).select_related("src"):
            namespace, name = dataset_name(edge.src)
            inputs.append(ev.InputDataset(namespace=namespace, name=name, facets=self._facets(edge.src)))
        for edge in Edge.objects.filter(src=task, valid_to__isnull=True, kind=EdgeKind.PRODUCED).select_related("dst"):
            namespace, name = dataset_name(edge.dst)
            outputs.append(ev.OutputDataset(namespace=namespace, name=name, facets=self._facets(edge.dst)))
        return inputs, outputs

    def _facets(self, artifact: Node) -> dict:
        if artifact.kind != NodeKind.MODEL_VERSION:
            return {}
        p = artifact.properties
        return {"kubeflow_model": self.model_facet(
            modelName=str(p.get("model_name") or artifact.display_name or ""), uri=str(p.get("uri") or ""),
            digest=str(p.get("digest") or ""), framework=str(p.get("framework") or ""),
            mlmdArtifactId=int(p.get("mlmd_artifact_id") or 0), producer=PRODUCER)}


def client(url: str | None = None, api_key: str | None = None, timeout: float = 10.0):
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport, TokenProvider

    url = url or settings.OPENLINEAGE_URL
    if not url:
        raise ValueError("OPENLINEAGE_URL is not set: nowhere to send OpenLineage events")
    api_key = api_key if api_key is not None else settings.OPENLINEAGE_API_KEY
    auth = ApiKeyTokenProvider({"apiKey": api_key}) if api_key else TokenProvider({})
    return OpenLineageClient(transport=HttpTransport(HttpConfig(url=url, auth=auth, timeout=timeout)))


def touched_runs(instance: str, since: dt.datetime) -> list[Node]:
    """Pipeline runs of `instance` whose node, or one of whose tasks, was recorded or revised since `since`."""
    prefix = f"{instance}/"
    changed = Node.objects.filter(source=Source.KUBEFLOW, kind=NodeKind.RUN, source_id__startswith=prefix).filter(
        Q(recorded_at__gte=since) | Q(pk__in=NodeRevision.objects.filter(recorded_at__gte=since).values("node_id")))
    runs = {n.pk: n for n in changed if n.source_id.startswith(prefix + "run/")}
    task_run_ids = {n.properties.get("run_id") for n in changed if n.source_id.startswith(prefix + "execution/")}
    task_run_ids.discard(None)
    task_run_ids.discard("")
    for n in Node.objects.filter(source=Source.KUBEFLOW, kind=NodeKind.RUN,
                                 source_id__in=[f"{prefix}run/{r}" for r in task_run_ids]):
        runs[n.pk] = n
    return sorted(runs.values(), key=lambda n: n.pk)


def emit_runs(runs: list[Node], instance: str, *, ol_client=None) -> int:
    """Send the events of `runs` (and their tasks); returns how many were sent. HTTP errors propagate."""
    ol_client = ol_client or client()
    builder = EventBuilder(instance)
    sent = 0
    for run in runs:
        for event in builder.for_run(run):
            ol_client.emit(event)
            sent += 1
    return sent


def instance_of(source_key: str) -> str:
    return source_key.split("|", 1)[0].split(":", 1)[1]


def emit_openlineage(harvest, *, ol_client=None) -> int:
    """The plugin hook: send every run this harvest created or changed."""
    instance = instance_of(harvest.source_key)
    return emit_runs(touched_runs(instance, harvest.started_at), instance, ol_client=ol_client)
