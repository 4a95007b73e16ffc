from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Installed only in a source checkout (see governance/settings.py): it holds no models, only the
    `load_demo` command."""

    name = "devtools"
    verbose_name = "Development tools (demo, test doubles)"
