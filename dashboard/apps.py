from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self):
        from common.security import add_script_hashes

        def dash_hashes():
            from dashboard.app import get_app  # built on first use, not at start-up

            return get_app().csp_hashes()

        # Dash's inline renderer start-up script, allowed by its hash rather than 'unsafe-inline'.
        add_script_hashes("/dashboard/", dash_hashes)
