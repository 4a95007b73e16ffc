"""A small made-up ML platform that speaks OpenLineage, for `manage.py load_demo` and the benchmark.

Every "pipeline" is one daily run of an Airflow DAG for a business domain (orders, clicks…). Its tasks
are jobs of different producers, each sending START and COMPLETE (sometimes FAIL) with the DAG run as
parent: an Airflow extract from the production database into the lake (raw), a Spark job building
features (with column lineage), a dbt model joining features into a training set (with its SQL), and a
trainer whose output dataset is the model (MLflow registry). Each domain also gets a JobEvent
describing the DAG, and a DatasetEvent for the shared customer dimension. Runs of the same DAG on later
days write new versions of the same datasets, so the graph has history.

The events go through the real ingest path (lineage.ingest.service, the function the HTTP views call),
so the demo exercises parsing, strict judgement, the mapping, the store and the audit trail.
"""
from __future__ import annotations

import datetime as dt
import random
import uuid

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/"
AIRFLOW = "https://github.com/apache/airflow/tree/providers-openlineage/1.9.0"
SPARK = "https://github.com/OpenLineage/OpenLineage/tree/1.20.0/integration/spark"
DBT = "https://github.com/OpenLineage/OpenLineage/tree/1.20.0/integration/dbt"
TRAINER = "https://example.com/ml-platform/trainer/0.4.2"
DOMAINS = ("orders", "clicks", "payments", "sessions", "returns", "support")
LAKE, WAREHOUSE, ANALYTICS, REGISTRY = "s3://ml-lake", "hive://warehouse", "postgres://analytics:5432", "mlflow://registry"
PROD_DB = "postgres://prod-db:5432"
START_DAY = dt.datetime(2024, 1, 1, 2, 0, tzinfo=dt.timezone.utc)


def _facet(producer: str, facet_class: str, **fields) -> dict:
    url = f"https://openlineage.io/spec/facets/1-0-0/{facet_class}.json#/$defs/{facet_class}"
    return {"_producer": producer, "_schemaURL": url, **fields}


def _schema(producer: str, columns: list[str]) -> dict:
    return _facet(producer, "SchemaDatasetFacet", fields=[{"name": c, "type": "DOUBLE" if c.endswith(("_amount", "_rate", "_score")) else "STRING"} for c in columns])


def _dataset(namespace: str, name: str, producer: str, columns: list[str] | None = None, **facets) -> dict:
    all_facets = dict(facets)
    if columns:
        all_facets["schema"] = _schema(producer, columns)
    return {"namespace": namespace, "name": name, "facets": all_facets}


def _time(value: dt.datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Builder:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.events: list[dict] = []

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def run_event(self, event_type, when, run_id, namespace, job, producer, *, parent=None, inputs=(), outputs=(),
                  run_facets=None, job_facets=None) -> None:
        facets = dict(run_facets or {})
        if parent:
            facets["parent"] = _facet(producer, "ParentRunFacet", run={"runId": parent[0]},
                                      job={"namespace": parent[1], "name": parent[2]})
        self.events.append({
            "eventType": event_type, "eventTime": _time(when), "producer": producer, "schemaURL": SCHEMA_URL + "RunEvent",
            "run": {"runId": run_id, "facets": facets},
            "job": {"namespace": namespace, "name": job, "facets": job_facets or {}},
            "inputs": list(inputs), "outputs": list(outputs),
        })

    def task(self, when, namespace, job, producer, parent, inputs, outputs, *, minutes, job_facets=None,
             fail_rate=0.0, output_facets=None, run_facets=None) -> dt.datetime:
        run_id = self.uuid()
        self.run_event("START", when, run_id, namespace, job, producer, parent=parent, inputs=inputs, outputs=outputs,
                       job_facets=job_facets,
                       run_facets={"processing_engine": _facet(producer, "ProcessingEngineRunFacet", version="3.5.1",
                                                               name=producer.rsplit("/", 1)[-1]), **(run_facets or {})})
        end = when + dt.timedelta(minutes=minutes, seconds=self.rng.randint(0, 59))
        if self.rng.random() < fail_rate:
            self.run_event("FAIL", end, run_id, namespace, job, producer, parent=parent, inputs=inputs,
                           run_facets={"errorMessage": _facet(producer, "ErrorMessageRunFacet", message="executor lost",
                                                              programmingLanguage="JAVA")})
            return end
        done_outputs = []
        for out in outputs:
            out = dict(out)
            out["outputFacets"] = {"outputStatistics": _facet(producer, "OutputStatisticsOutputDatasetFacet",
                                                              rowCount=self.rng.randint(10_000, 5_000_000),
                                                              size=self.rng.randint(10**6, 10**9))}
            if output_facets:
                out["facets"] = {**out.get("facets", {}), **output_facets}
            done_outputs.append(out)
        self.run_event("COMPLETE", end, run_id, namespace, job, producer, parent=parent, inputs=inputs,
                       outputs=done_outputs)
        return end


def generate_events(seed: int = 0, n_pipelines: int = 12) -> list[dict]:
    """OpenLineage events (2-0-2, as dicts) for `n_pipelines` daily DAG runs, in emission order."""
    b = _Builder(seed)
    domains = DOMAINS[: max(1, min(len(DOMAINS), n_pipelines))]
    customers = _dataset(WAREHOUSE, "dim.customers", SPARK, ["customer_id", "segment", "country", "lifetime_amount"])
    b.events.append({"eventTime": _time(START_DAY - dt.timedelta(days=1)), "producer": SPARK,
                     "schemaURL": SCHEMA_URL + "DatasetEvent", "dataset": customers})
    for domain in domains:
        dag = f"{domain}_churn_training"
        b.events.append({
            "eventTime": _time(START_DAY - dt.timedelta(hours=12)), "producer": AIRFLOW, "schemaURL": SCHEMA_URL + "JobEvent",
            "job": {"namespace": "airflow://ml-platform", "name": dag, "facets": {
                "documentation": _facet(AIRFLOW, "DocumentationJobFacet", description=f"Daily churn model for {domain}"),
                "ownership": _facet(AIRFLOW, "OwnershipJobFacet", owners=[{"name": f"team:{domain}-ml", "type": "TEAM"}]),
            }},
            "inputs": [{"namespace": PROD_DB, "name": f"public.{domain}"}],
            "outputs": [{"namespace": REGISTRY, "name": f"models/{domain}_churn"}],
        })
    for p in range(n_pipelines):
        domain = domains[p % len(domains)]
        day = p // len(domains)
        dag, dag_ns = f"{domain}_churn_training", "airflow://ml-platform"
        dag_run = b.uuid()
        start = START_DAY + dt.timedelta(days=day, minutes=7 * (p % len(domains)))
        nominal = {"nominalTime": _facet(AIRFLOW, "NominalTimeRunFacet", nominalStartTime=_time(start),
                                         nominalEndTime=_time(start + dt.timedelta(days=1)))}
        b.run_event("START", start, dag_run, dag_ns, dag, AIRFLOW, run_facets=nominal)
        parent = (dag_run, dag_ns, dag)
        raw_cols = ["event_id", "customer_id", f"{domain}_amount", "created_at"]
        raw = _dataset(LAKE, f"raw/{domain}", AIRFLOW, raw_cols)
        t = b.task(start + dt.timedelta(minutes=1), dag_ns, f"{dag}.extract_{domain}", AIRFLOW, parent,
                   [_dataset(PROD_DB, f"public.{domain}", AIRFLOW, raw_cols)], [raw], minutes=4)
        features = _dataset(WAREHOUSE, f"features.{domain}_daily", SPARK,
                            ["customer_id", f"{domain}_count", f"{domain}_amount", f"{domain}_rate"],
                            columnLineage=_facet(SPARK, "ColumnLineageDatasetFacet", fields={
                                f"{domain}_count": {"inputFields": [{"namespace": LAKE, "name": f"raw/{domain}", "field": "event_id"}]},
                                f"{domain}_amount": {"inputFields": [{"namespace": LAKE, "name": f"raw/{domain}", "field": f"{domain}_amount"}]},
                                f"{domain}_rate": {"inputFields": [
                                    {"namespace": LAKE, "name": f"raw/{domain}", "field": "event_id"},
                                    {"namespace": LAKE, "name": f"raw/{domain}", "field": "created_at"}]},
                            }))
        t = b.task(t + dt.timedelta(minutes=1), "spark://cluster-a", f"{domain}_features.execute_insert", SPARK, parent,
                   [raw], [features], minutes=9, fail_rate=0.05,
                   job_facets={"jobType": _facet(SPARK, "JobTypeJobFacet", processingType="BATCH", integration="SPARK", jobType="JOB")})
        training = _dataset(ANALYTICS, f"analytics.training_{domain}", DBT,
                            ["customer_id", "segment", f"{domain}_count", f"{domain}_rate", "churned"])
        sql = (f"select f.*, c.segment, c.churned from features.{domain}_daily f "
               f"join dim.customers c using (customer_id)")
        t = b.task(t + dt.timedelta(minutes=1), "dbt://analytics", f"ml.training_{domain}", DBT, parent,
                   [features, customers], [training], minutes=3,
                   job_facets={"sql": _facet(DBT, "SQLJobFacet", query=sql, dialect="postgres")})
        model = _dataset(REGISTRY, f"models/{domain}_churn", TRAINER, None,
                         datasetType=_facet(TRAINER, "DatasetTypeDatasetFacet", datasetType="MODEL"))
        metrics = {"ml_model": _facet(TRAINER, "MlModelDatasetFacet", framework="xgboost", auc=round(b.rng.uniform(0.7, 0.95), 4))}
        # The trainer says which commit it ran (the standard sourceCodeLocation job facet) and, in a custom run
        # facet, the hyperparameters it was given: what the model's provenance card shows as code and parameters.
        commit = f"{(p * 2654435761) % 2**32:08x}{b.rng.getrandbits(128):032x}"
        code = {"sourceCodeLocation": _facet(TRAINER, "SourceCodeLocationJobFacet", type="git",
                                             url=f"https://git.example.com/ml/churn-trainer/tree/{commit}",
                                             repoUrl="https://git.example.com/ml/churn-trainer.git",
                                             path=f"train/{domain}.py", version=commit, branch="main")}
        hyper = {"parameters": _facet(TRAINER, "TrainerParametersRunFacet", learning_rate=round(0.01 * (1 + p % 5), 2),
                                      max_depth=4 + p % 4, n_estimators=200)}
        t = b.task(t + dt.timedelta(minutes=1), "ml://trainer", f"train.{domain}_churn", TRAINER, parent,
                   [training], [model], minutes=25, output_facets=metrics, job_facets=code, run_facets=hyper)
        b.run_event("COMPLETE", t + dt.timedelta(minutes=1), dag_run, dag_ns, dag, AIRFLOW, run_facets=nominal)
    return b.events


def load_demo_events(user, *, seed: int = 0, n_pipelines: int = 12, batch_size: int = 200) -> dict:
    """Feed the demo events through the ingest service as `user` (an engineer or admin); returns totals."""
    from common.audit import context
    from lineage.ingest import service

    events = generate_events(seed=seed, n_pipelines=n_pipelines)
    totals = {"received": 0, "successful": 0, "failed": 0, "duplicates": 0}
    with context.acting_as(context.for_user(user, service="demo:openlineage")):
        for start in range(0, len(events), batch_size):
            answer = service.ingest_batch(events[start:start + batch_size], user)
            for key in totals:
                totals[key] += answer["summary"][key]
    return totals
