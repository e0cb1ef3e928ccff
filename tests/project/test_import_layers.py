"""The direction of imports: the job API and engine (everything in ``dagviz`` but ``dagviz.server``) never
import Django or the ``runs`` app, so ``import dagviz`` stays light and the engine runs without a web app."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import importlib, pkgutil, sys
import dagviz
names = [m.name for m in pkgutil.walk_packages(dagviz.__path__, "dagviz.")
         if not m.name.startswith(("dagviz.server", "dagviz.__main__"))]
for name in names:
    importlib.import_module(name)
print(len(names), sorted(m for m in sys.modules if m.split(".")[0] in ("django", "runs", "channels", "graphene")))
"""


def test_no_engine_module_imports_django_or_the_web_app():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    count, imported = result.stdout.split(" ", 1)
    assert int(count) > 40, "the walk found too few modules to mean anything"
    assert imported.strip() == "[]"
