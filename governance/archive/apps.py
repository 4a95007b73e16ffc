from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "governance.archive"
    label = "archive"
    verbose_name = "Archive"
