"""Where dagviz keeps its local state (SQLite database, output store, logs).

Pure Python with no Django import, so the engine and the web app agree on the
same location without the engine paying for Django.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV_VAR = "DAGVIZ_HOME"
OUTPUT_STORE_ENV_VAR = "DAGVIZ_OUTPUT_STORE"
DEFAULT_HOME = ".dagviz"


def dagviz_home() -> Path:
    """Return the absolute dagviz home: ``$DAGVIZ_HOME`` or ``./.dagviz``.

    Relative paths are resolved against the current working directory so
    every process started from the same place agrees on the location.
    The directory is not created; use :func:`ensure_dagviz_home` for that.
    """
    raw = os.environ.get(HOME_ENV_VAR) or DEFAULT_HOME
    return (Path.cwd() / Path(raw).expanduser()).resolve()


def ensure_dagviz_home() -> Path:
    """Return the dagviz home, creating it (and its parents) if missing."""
    home = dagviz_home()
    home.mkdir(parents=True, exist_ok=True)
    return home


def default_output_store_url() -> str:
    """Return the output store URL: ``$DAGVIZ_OUTPUT_STORE`` or ``file://<home>/storage``.

    A ``file://`` URL is the default because a ``memory://`` store is private to
    one process and would be invisible to step workers and the web server.
    """
    return os.environ.get(OUTPUT_STORE_ENV_VAR) or home_output_store_url()


def home_output_store_url() -> str:
    """The output store under the dagviz home: ``file://<home>/storage``."""
    return (dagviz_home() / "storage").as_uri()
