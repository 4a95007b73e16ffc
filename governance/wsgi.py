"""WSGI entry point (gunicorn governance.wsgi).

After start-up the objects Django, DRF, Dash and the models made are moved out of the garbage collector's
reach (`gc.freeze()`): they live as long as the process, and every full collection would otherwise scan them
again — about 40 ms of CPU each, landing in the slowest requests (measured by bench.lineage --gc-freeze)."""
import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
application = get_wsgi_application()


def _refuse_insecure_start() -> None:
    """gunicorn runs no system checks: the one that must stop a server is run here."""
    from django.core.exceptions import ImproperlyConfigured

    from connectors.checks import connector_key_problem

    problem = connector_key_problem()
    if problem:
        raise ImproperlyConfigured(problem)


_refuse_insecure_start()
gc.collect()
gc.freeze()
