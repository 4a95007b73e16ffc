"""The settings of a test run (pyproject.toml: `--ds tests.settings`): the production settings, after the
keys a test run needs are put in the environment. In the environment, not only in these settings, so the
processes the tests start (gunicorn, Celery workers, manage.py) inherit them and read what the tests stored
(connector secrets, signed checkpoints). A key already set in the environment is kept."""
import os

os.environ.setdefault("SECRET_KEY", "insecure-test-only-" + "x" * 40)
os.environ.setdefault("AUDIT_HMAC_KEY", "insecure-test-only-audit-" + "y" * 40)

from governance.settings import *  # noqa: F403  (the settings under test, unchanged)
