from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "lineage.ingest"
    label = "ingest"
    verbose_name = "OpenLineage ingest"
