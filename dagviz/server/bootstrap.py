"""Bringing a dagviz home up to date before serving it: Django set up, tables migrated, static files collected.

Each step does nothing when there is nothing to do, so a server that starts again on the
same home pays only for the checks (`dagviz dev` serves its first page in about a second).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

SETTINGS_MODULE = "dagviz.server.settings"
SOURCES_FINGERPRINT = ".dagviz-sources"  # beside the collected files: what they were collected from


def configure_django() -> None:
    """Set Django up with dagviz's settings, unless this process already did."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def unapplied_migrations() -> list[str]:
    """The migrations the database still lacks, as ``app.name``."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return [f"{migration.app_label}.{migration.name}"
            for migration, _ in executor.migration_plan(executor.loader.graph.leaf_nodes())]


def migrate() -> None:
    """Create or upgrade the database's tables (a no-op when they are current)."""
    from django.core.management import call_command

    if unapplied_migrations():
        call_command("migrate", interactive=False, verbosity=0, skip_checks=True)


def setup_django() -> None:
    """Configure Django and bring the database's tables up to date, as Dagster creates its storage on first use."""
    configure_django()
    migrate()


def collect_static() -> bool:
    """Collect the UI's static files (hashed names, compressed) into ``STATIC_ROOT`` if their sources changed.

    Returns whether it collected. The sources' names, sizes and modification times are the
    fingerprint, so an upgrade of dagviz (or an edit in a checkout) collects again.
    """
    from django.conf import settings
    from django.core.management import call_command

    fingerprint = _static_sources_fingerprint()
    root = Path(settings.STATIC_ROOT)
    marker = root / SOURCES_FINGERPRINT
    if (root / "staticfiles.json").is_file() and marker.is_file() and marker.read_text() == fingerprint:
        return False
    call_command("collectstatic", interactive=False, verbosity=0, skip_checks=True)
    marker.write_text(fingerprint)
    return True


def _static_sources_fingerprint() -> str:
    from django.contrib.staticfiles.finders import get_finders

    digest = hashlib.sha256()
    for finder in get_finders():
        for path, storage in sorted(finder.list([]), key=lambda item: item[0]):
            stat = os.stat(storage.path(path))
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
