from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "governance.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        from governance.accounts import signals  # noqa: F401
