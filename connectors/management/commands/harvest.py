"""Harvest a source into the lineage store, ad hoc or for a configured connector.

    manage.py harvest kubeflow --kfp-host URL --mlmd-sqlite PATH     ad hoc, arguments from the kind's plugin
    manage.py harvest viya ...                                       idem, Viya's plugin
    manage.py harvest <connector-name>                               a connector configured in the database
    manage.py harvest <connector-name> --enqueue                     idem, queued for the Celery workers

Each kind is a subcommand whose arguments its plugin adds (connectors/registry.py), so a new kind needs no
change here. The harvest runs as the service actor `harvester:<kind>` on behalf of the invoking user, and
always leaves a Harvest record, including when it fails. Every harvest starts through
connectors.service.start_harvest, like the API, the schedules and the dashboard: under the source's lock (a
harvest already running is an error, not a second harvest), in the same partitions a worker would run (here
one after the other), with the same after-harvest hooks (stitching, --emit-openlineage).
"""
from __future__ import annotations

import getpass
import signal
import sys
import threading

from django.core.management.base import BaseCommand, CommandError

from connectors import registry, service


def _configured_names() -> list[str]:
    """Configured connector names, or none when the database is not reachable or not migrated yet."""
    try:
        from connectors.models import ConnectorConfig

        return list(ConnectorConfig.objects.order_by("name").values_list("name", flat=True))
    except Exception:
        return []


class Command(BaseCommand):
    help = "Harvest lineage from a source: `harvest <kind> [options]` or `harvest <connector-name>`."

    def add_arguments(self, parser):
        subparsers = parser.add_subparsers(dest="target", metavar="{kind|connector-name}", required=True)
        self.kind_errors = {}
        for kind in sorted(registry.PLUGINS):
            sub = _common(subparsers.add_parser(kind, help=f"ad-hoc {kind} harvest"))
            try:
                registry.plugin(kind).add_arguments(sub)
            except ImportError as exc:
                self.kind_errors[kind] = f"the {kind} connector is not installed: {exc}"
        for name in _configured_names():
            if name not in registry.PLUGINS and name != "connector":
                _common(subparsers.add_parser(name, help=f"harvest the configured connector {name!r}"))
        _common(subparsers.add_parser("connector", help="harvest a configured connector by name")).add_argument("name")

    def handle(self, *args, **options):
        target = options["target"]
        if target in registry.PLUGINS:
            if target in self.kind_errors:
                raise CommandError(self.kind_errors[target])
            kind, config = target, None
            try:
                connector = registry.plugin(kind).from_options(options)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        else:
            from connectors.models import ConnectorConfig

            name = options.get("name") if target == "connector" else target
            config = ConnectorConfig.objects.filter(name=name).first()
            if config is None:
                raise CommandError(f"no connector named {name!r}; configured: {', '.join(_configured_names()) or 'none'}")
            if not config.enabled:
                raise CommandError(f"connector {name!r} is disabled")
            kind = config.kind
            try:
                connector = registry.plugin(kind).from_config(config)
            except ValueError as exc:
                raise CommandError(f"connector {name!r} is misconfigured: {exc}") from exc
            if options.get("enqueue"):
                return self._enqueue(config, options)

        show = options.get("progress") if options.get("progress") is not None else self.stdout.isatty()
        bar = None
        progress = None
        if show:
            from tqdm import tqdm

            bar = tqdm(desc=f"harvest {config.name if config else kind}", unit=" objects", file=sys.stderr)
            totals: dict[str, int] = {}

            def progress(page):
                bar.update(sum(page.read.values()))
                for name, count in page.read.items():
                    totals[name] = totals.get(name, 0) + count
                bar.set_postfix({k: v for k, v in totals.items() if v}, refresh=False)

        previous_handler = None
        if threading.current_thread() is threading.main_thread():
            # SIGTERM (a stopped pod or service) ends the harvest as a recorded failure, not a silent death;
            # the pages already stored stay, and the next harvest resumes after them.
            previous_handler = signal.signal(signal.SIGTERM, _terminated)
        actor = options.get("actor") or _os_user()
        ctx = {"username": actor}
        emit = bool(options.get("emit_openlineage"))
        try:
            started = service.start_harvest(config if config is not None else connector, ctx=ctx, inline=True,
                                            progress=progress, emit_openlineage=emit)
        except service.HarvestRefused as exc:
            raise CommandError(exc.detail) from exc
        except Exception as exc:  # the Harvest record holds the failure; say it plainly and exit non-zero
            raise CommandError(f"harvest failed: {type(exc).__name__}: {exc}") from exc
        finally:
            if bar is not None:
                bar.close()
            if previous_handler is not None:
                signal.signal(signal.SIGTERM, previous_handler)
        harvest = started.harvest
        emitted = (harvest.counts.get("after") or {}).get("openlineage")
        if emitted is not None:
            if "error" in emitted:
                raise CommandError(f"harvest {harvest.pk} stored, but OpenLineage emission failed: {emitted['error']}")
            self.stdout.write(f"sent {emitted['sent']} OpenLineage events")
        counts = harvest.counts
        read = ", ".join(f"{k} {v}" for k, v in sorted(counts.get("read", {}).items())) or "nothing"
        self.stdout.write(
            f"harvest {harvest.pk} {harvest.status}: {harvest.pages} pages; read {read}; "
            f"nodes +{counts.get('nodes_created', 0)} ~{counts.get('nodes_updated', 0)}, "
            f"edges +{counts.get('edges_created', 0)} -{counts.get('edges_closed', 0)}"
        )
        for warning in harvest.warnings:
            self.stdout.write(f"warning: skipped {warning['object']}: {warning['reason']}")

    def _enqueue(self, config, options):
        from governance.celery import broker_configured

        if not broker_configured():
            raise CommandError("--enqueue needs a broker: set CELERY_BROKER_URL (without one, drop --enqueue "
                               "and the harvest runs here)")
        try:
            started = service.start_harvest(config, ctx={"username": options.get("actor") or _os_user()},
                                            emit_openlineage=bool(options.get("emit_openlineage")))
        except service.HarvestRefused as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(f"harvest {started.harvest.pk} queued as task {started.task_id}")


def _terminated(signum, frame):
    raise SystemExit(f"terminated by signal {signum}")


def _common(sub):
    sub.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="Show a progress bar even when not on a terminal")
    sub.add_argument("--no-progress", dest="progress", action="store_false", help="Never show a progress bar")
    sub.add_argument("--actor", default="", help="Who asked for this harvest (default: the OS user)")
    sub.add_argument("--enqueue", action="store_true",
                     help="Configured connectors: queue the harvest for the Celery workers instead of running it here")
    sub.add_argument("--emit-openlineage", action="store_true",
                     help="Also send the harvested runs as OpenLineage events to OPENLINEAGE_URL")
    return sub


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "cli"
