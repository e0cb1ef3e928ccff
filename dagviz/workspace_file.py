"""``workspace.yaml`` in Dagster's format: where a deployment's jobs are defined.

    load_from:
      - python_file: my_jobs.py               # or {relative_path: ..., working_directory: ...}
      - python_module: my_package.jobs        # or {module_name: ..., working_directory: ...}
      - python_package: my_package            # Dagster's third form, loaded like a module

Paths are relative to the file's folder. ``attribute`` and ``location_name`` are accepted and
ignored: dagviz loads every job and ``Definitions`` object a file or module defines.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dagviz.config.safe_yaml import check_size, load_bounded_yaml
from dagviz.errors import InvalidConfigError, WorkspaceLoadError

_FILE_KEYS = {"relative_path", "working_directory", "attribute", "location_name", "executable_path"}
_MODULE_KEYS = {"module_name", "package_name", "working_directory", "attribute", "location_name", "executable_path"}


@dataclass
class WorkspaceSpec:
    """The entries of a workspace (files end in ``.py``, anything else is a module) and folders to import from."""

    entries: list[str] = field(default_factory=list)
    import_paths: list[str] = field(default_factory=list)

    def add_import_path(self, folder: Path) -> None:
        if str(folder) not in self.import_paths:
            self.import_paths.append(str(folder))


def read_workspace_file(path: str | Path) -> WorkspaceSpec:
    """Parse a ``workspace.yaml``; a missing file or a malformed entry is a ``WorkspaceLoadError`` saying which."""
    path = Path(path).resolve()
    what = f"Workspace file {path}"
    try:
        check_size(path.stat().st_size, what)
        document = load_bounded_yaml(path.read_text(), what)
    except OSError as error:
        raise WorkspaceLoadError(f"Cannot read workspace file {path}: {error.strerror}.") from error
    except InvalidConfigError as error:  # not valid YAML, or past a limit of the bounded loader
        raise WorkspaceLoadError(error.errors[0][1]) from None
    if not isinstance(document, dict) or not isinstance(document.get("load_from"), list):
        raise WorkspaceLoadError(f"Workspace file {path} needs a `load_from:` list of python_file or python_module entries.")
    spec = WorkspaceSpec()
    for index, item in enumerate(document["load_from"]):
        _add_entry(spec, item, path.parent, f"{path}: load_from[{index}]")
    return spec


def _add_entry(spec: WorkspaceSpec, item: object, base: Path, where: str) -> None:
    if not isinstance(item, dict) or len(item) != 1:
        raise WorkspaceLoadError(f"{where} must be one of python_file, python_module or python_package.")
    kind, value = next(iter(item.items()))
    if kind == "python_file":
        options = _options(value, "relative_path", _FILE_KEYS, where)
        file = (base / options["relative_path"]).resolve()
        spec.entries.append(str(file))
        folder = base / options["working_directory"] if "working_directory" in options else file.parent
        spec.add_import_path(folder.resolve())
    elif kind in ("python_module", "python_package"):
        name_key = "module_name" if kind == "python_module" else "package_name"
        options = _options(value, name_key, _MODULE_KEYS, where)
        spec.entries.append(options[name_key])
        spec.add_import_path((base / options.get("working_directory", ".")).resolve())
    else:
        raise WorkspaceLoadError(f"{where}: unknown entry '{kind}'; use python_file, python_module or python_package.")


def _options(value: object, main_key: str, allowed: set[str], where: str) -> dict[str, str]:
    options = {main_key: value} if isinstance(value, str) else value
    if not isinstance(options, dict) or not isinstance(options.get(main_key), str) or not options[main_key]:
        raise WorkspaceLoadError(f"{where} needs `{main_key}` (a string).")
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise WorkspaceLoadError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}.")
    if not all(isinstance(v, str) for v in options.values()):
        raise WorkspaceLoadError(f"{where}: every value must be a string.")
    return options


DEFAULT_WORKSPACE_FILE = "workspace.yaml"
WORKSPACE_ENV_VAR = "DAGVIZ_WORKSPACE"


def resolve_workspace(files: list[str], modules: list[str], workspace_file: str | None) -> WorkspaceSpec | None:
    """The workspace the command line names: ``-f``/``-m`` entries, else ``-w FILE``, else ``./workspace.yaml``.

    None when none of them is given: ``DAGVIZ_WORKSPACE`` (or its default) then applies. Modules
    are imported from the current folder first, as ``python -m`` and Dagster do; a file's helper
    modules from the file's folder.
    """
    if files or modules:
        paths = [Path(f).resolve() for f in files]
        folders = list(dict.fromkeys([str(Path.cwd())] + [str(path.parent) for path in paths]))
        return WorkspaceSpec([str(path) for path in paths] + list(modules), folders)
    if workspace_file:
        return read_workspace_file(workspace_file)
    if Path(DEFAULT_WORKSPACE_FILE).is_file():
        return read_workspace_file(DEFAULT_WORKSPACE_FILE)
    return None


def apply_workspace(spec: WorkspaceSpec) -> None:
    """Make ``spec`` this process's workspace and that of every process it starts (servers, run workers)."""
    os.environ[WORKSPACE_ENV_VAR] = ",".join(spec.entries)
    python_path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    for path in reversed(spec.import_paths):
        if path not in sys.path:
            sys.path.insert(0, path)
        if path not in python_path:
            python_path.insert(0, path)
    if python_path:
        os.environ["PYTHONPATH"] = os.pathsep.join(python_path)


def workspace_entries() -> list[str]:
    """The entries of ``DAGVIZ_WORKSPACE`` (default: the bundled examples)."""
    raw = os.environ.get(WORKSPACE_ENV_VAR, "") or "dagviz.examples"
    return [entry.strip() for entry in raw.split(",") if entry.strip()]
