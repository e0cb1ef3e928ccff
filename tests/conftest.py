"""Shared test setup: every test session gets its own throw-away ``DAGVIZ_HOME``.

pytest-django imports ``dagviz.server.settings`` while pytest loads its plugins, which
is before any conftest runs, so exporting the variable here is too late for the
settings module on its own. When no ``DAGVIZ_HOME`` was exported, this module
sets it (for engine code and for subprocesses such as run workers and live
servers, which read it when they start) and moves the already loaded
home-derived settings to the same directory, before any test database exists.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import types
from pathlib import Path

import pytest

_CREATED_HOME: Path | None = None


def _move_loaded_settings_to(home: Path) -> None:
    """Point the settings derived from ``DAGVIZ_HOME`` at ``home``, if already loaded.

    The database dicts are updated in place, as pytest-django itself does for
    xdist suffixes, because Django's connection objects hold references to them.
    """
    if "dagviz.server.settings" not in sys.modules:
        return  # Settings will read the new DAGVIZ_HOME when they load.
    from django.conf import settings
    from django.db import connections

    from dagviz.server.settings import database_settings

    if connections["default"].connection is not None:
        raise RuntimeError(
            "A database connection was opened before tests/conftest.py could move "
            "DAGVIZ_HOME to a temporary directory; export DAGVIZ_HOME instead."
        )
    fresh = database_settings(os.environ.get("DATABASE_URL") or None, home)
    current = settings.DATABASES["default"]
    current["NAME"] = fresh["NAME"]
    if "TEST" in fresh:
        current.setdefault("TEST", {})["NAME"] = fresh["TEST"]["NAME"]
    settings.DAGVIZ_HOME = home
    settings.STATIC_ROOT = home / "static"


if not os.environ.get("DAGVIZ_HOME"):
    _CREATED_HOME = Path(tempfile.mkdtemp(prefix="dagviz-tests-")).resolve()
    os.environ["DAGVIZ_HOME"] = str(_CREATED_HOME)
    _move_loaded_settings_to(_CREATED_HOME)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the temporary home this module created, once the session is over."""
    if _CREATED_HOME is not None:
        shutil.rmtree(_CREATED_HOME, ignore_errors=True)


# One browser and one UI server per session, shared by tests/ui and tests/security (Playwright's sync
# API allows one instance per thread); imported after DAGVIZ_HOME is settled above.
@pytest.fixture(autouse=True)
def restore_reloaded_modules():
    """Put back the modules a test re-imported (``reloadWorkspace`` reloads the workspace's, e.g. dagviz.examples).

    Other test modules hold job objects imported from the originals; a process may only hand a job to
    other processes while its module still holds that very object (``dagviz.workspace.pointer_for``).
    """
    before = dict(sys.modules)
    yield
    replaced = {name: module for name, module in before.items() if sys.modules.get(name) is not module}
    if not replaced:
        return
    sys.modules.update(replaced)
    for name, module in replaced.items():
        parent, _, child = name.rpartition(".")
        # The import system binds a submodule as its package's attribute; a package may rebind that name
        # (dagviz.examples: `from .flaky_fanout import flaky_fanout`, a job), which must stay as it is.
        if isinstance(getattr(sys.modules.get(parent), child, None), types.ModuleType):
            setattr(sys.modules[parent], child, module)
    from runs import workspace  # the cached workspace holds the re-imported jobs: rebuild it on next use

    workspace._cached = None


from tests.browser import browser, ui_server  # noqa: E402, F401
