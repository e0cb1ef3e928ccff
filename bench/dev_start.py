"""How long `dagviz dev` takes from start to its first page (target: <= 3 s with the examples workspace).

    python bench/dev_start.py [--runs 5]

Each run starts `dagviz dev -m dagviz.examples` in a fresh process and times the first HTTP 200
on `/`. "cold" starts on an empty DAGVIZ_HOME (database created, static files collected);
"warm" starts again on the home the previous run left (what every later start costs).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from support import free_port

DAGVIZ = Path(sys.executable).parent / "dagviz"


def time_to_first_page(home: Path) -> float:
    port = free_port()
    env = {**os.environ, "DAGVIZ_HOME": str(home)}
    env.pop("DATABASE_URL", None)
    started = time.monotonic()
    process = subprocess.Popen([str(DAGVIZ), "dev", "-m", "dagviz.examples", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"dagviz dev exited with {process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cold, warm = [], []
    for _ in range(args.runs):
        home = Path(tempfile.mkdtemp(prefix="dagviz-dev-bench-"))
        try:
            cold.append(time_to_first_page(home))
            warm.append(time_to_first_page(home))
        finally:
            shutil.rmtree(home, ignore_errors=True)
    for name, times in (("cold (empty home)", cold), ("warm (existing home)", warm)):
        print(f"{name:<22} median {statistics.median(times):.2f} s   runs: {', '.join(f'{t:.2f}' for t in times)}")


if __name__ == "__main__":
    main()
