from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Source connectors"

    def ready(self):
        import common.sources
        from connectors import checks  # noqa: F401  (registers connectors.E001)
        from connectors import directory

        # Governance (approval write-back, provenance links) reaches the configured connectors this way.
        common.sources.install(directory)
