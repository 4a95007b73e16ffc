from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "governance.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from governance.audit import checks  # noqa: F401  (registers the signing-key checks)
