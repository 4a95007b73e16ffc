"""Start-up checks: a missing or unreadable signing key should stop the server at boot, not fail the
thousandth audited write (the one that triggers a checkpoint)."""
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

DEV_HMAC_KEY = "dev-audit-key-change-me"


@checks.register(checks.Tags.security)
def signing_key(app_configs=None, **kwargs):
    from governance.audit import signing

    try:
        signer = signing.current_signer()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="audit.E001")]
    problems = []
    if signer.algorithm == "hmac-sha256" and settings.AUDIT_HMAC_KEY == DEV_HMAC_KEY and not settings.DEBUG:
        problems.append(checks.Warning(
            "AUDIT_HMAC_KEY is the development default: anyone who reads the source can forge checkpoints.",
            hint="Set AUDIT_HMAC_KEY to a long random secret, or configure AUDIT_ED25519_PRIVATE_KEY.",
            id="audit.W001",
        ))
    every = getattr(settings, "AUDIT_CHECKPOINT_EVERY", 0)
    if not isinstance(every, int) or every < 0:
        problems.append(checks.Error("AUDIT_CHECKPOINT_EVERY must be a whole number ≥ 0 (0 = on demand only)", id="audit.E002"))
    return problems


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
