from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "governance.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        import common.audit
        from governance.audit import checks  # noqa: F401  (registers the signing-key checks)
        from governance.audit import recorder

        # Every app records through common.audit (lineage may not import governance): this is the chain.
        common.audit.install(recorder)
