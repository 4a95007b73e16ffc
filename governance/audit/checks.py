"""Start-up checks: a missing or unreadable signing key should stop the server at boot, not fail the
thousandth audited write (the one that triggers a checkpoint)."""
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

DEV_HMAC_KEY = "dev-audit-key-change-me"


@checks.register(checks.Tags.security)
def signing_key(app_configs=None, **kwargs):
    """Nothing to check for the commands that only read code and migrations (makemigrations --check, a
    developer's or CI's lint): they run without keys, as settings lets them (KEYLESS_COMMANDS). The deployment
    check (`check --deploy`) still names a missing key."""
    import sys

    from governance.audit import signing

    if settings.KEYLESS_COMMAND and "--deploy" not in sys.argv:
        return []
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
    every = settings.AUDIT_CHECKPOINT_EVERY
    if not isinstance(every, int) or every < 0:
        problems.append(checks.Error("AUDIT_CHECKPOINT_EVERY must be a whole number ≥ 0 (0 = on demand only)", id="audit.E002"))
    return problems
