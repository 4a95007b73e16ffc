"""What governance needs from the source connectors, without importing them: the connectors configured
for a source kind (approval write-back, links on the provenance card), and carrying out an approved
promotion at its source.

Connectors import governance (the audit trail, permissions), so governance importing connectors would be a
cycle. The connectors app installs the implementation (connectors/directory.py) in its AppConfig.ready();
without that app there are no configured connectors and nothing runs at a source.
"""
from __future__ import annotations

_directory = None


class Unavailable(Exception):
    """No connectors app, or no plugin for the connector's kind, or one that cannot do what was asked."""


def install(directory) -> None:
    """`directory`: an object (a module) with `configured(kinds)` and `execute_promotion(config, node,
    action)`, as connectors/directory.py."""
    global _directory
    _directory = directory


def configured(*kinds: str) -> list:
    """The configured connectors of these kinds (every kind when none is named), oldest first: objects with
    `pk`, `name`, `kind`, `enabled`, `write_back_enabled` and `settings` (a dict)."""
    return [] if _directory is None else list(_directory.configured(kinds))


def execute_promotion(config, node, action: dict):
    """Run `action` (a stage policy's source action) for `node` through `config`'s connector; its answer
    (a JSON-able description of what it did) is returned. Unavailable when that cannot be tried at all."""
    if _directory is None:
        raise Unavailable("no connectors app is installed")
    return _directory.execute_promotion(config, node, action)
