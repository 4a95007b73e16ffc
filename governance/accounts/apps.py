from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "governance.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        from governance.accounts import schema, signals  # noqa: F401  (registers the token schema extension and the signal handlers)
        # Bind @shared_task functions to the project's Celery app (eager without a broker).
        import governance.celery  # noqa: F401  (imported for its side effect)
