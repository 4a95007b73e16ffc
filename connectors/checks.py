"""Start-up check of the connectors app: stored connector credentials need their own key."""
from django.conf import settings
from django.core import checks


def connector_key_problem() -> str | None:
    """Why the service must not serve: connector credentials are stored but CONNECTOR_SECRET_KEY is unset
    (DEBUG off). They are then encrypted with a key derived from SECRET_KEY, so rotating SECRET_KEY (as one
    does after a leak) would make every stored credential unreadable, and whoever has SECRET_KEY has them."""
    if settings.DEBUG or settings.CONNECTOR_SECRET_KEY:
        return None
    from django.db import DatabaseError

    from connectors.models import ConnectorConfig

    try:
        names = list(ConnectorConfig.objects.exclude(encrypted_secrets="").values_list("name", flat=True)[:5])
    except DatabaseError:  # not migrated yet: nothing stored
        return None
    if not names:
        return None
    return (f"connector credentials are stored ({', '.join(names)}) but CONNECTOR_SECRET_KEY is not set: set it "
            "to the Fernet key they were encrypted with (see docs/deployment.md)")


@checks.register(checks.Tags.security)  # not "database": those are skipped unless asked for
def connector_secret_key(app_configs=None, **kwargs):
    problem = connector_key_problem()
    return [checks.Error(problem, id="connectors.E001")] if problem else []
