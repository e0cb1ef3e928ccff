"""How long a fresh clone takes to install for `make run` (the product) and for `make test` (with test tools).

    python bench/install_time.py [--rounds 3]

Each round clones this repository's HEAD twice into a temporary folder and times `make install`
(what `make run` does first) and `make install-test` (what `make test` does first), in a new
.venv each time, alternating which goes first. pip's download cache is shared, as on any
machine that installed once; the target is product <= half of test.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed_install(target: str) -> tuple[float, int]:
    """Seconds ``make TARGET`` takes in a fresh clone, and the installed packages' count."""
    folder = Path(tempfile.mkdtemp(prefix="dagviz-install-bench-"))
    try:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(folder / "dagviz")], check=True)
        started = time.monotonic()
        subprocess.run(["make", target], cwd=folder / "dagviz", check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        elapsed = time.monotonic() - started
        listed = subprocess.run([str(folder / "dagviz" / ".venv" / "bin" / "python"), "-m", "pip", "list",
                                 "--format=freeze"], capture_output=True, text=True, check=True)
        return elapsed, len(listed.stdout.splitlines())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"install": [], "install-test": []}
    packages: dict[str, int] = {}
    for round_number in range(args.rounds):
        order = ["install", "install-test"] if round_number % 2 == 0 else ["install-test", "install"]
        for target in order:
            seconds, packages[target] = timed_install(target)
            times[target].append(seconds)
            print(f"round {round_number + 1}: make {target}: {seconds:.1f} s", flush=True)
    product, test = statistics.median(times["install"]), statistics.median(times["install-test"])
    print(f"make install (make run):       median {product:.1f} s, {packages['install']} packages")
    print(f"make install-test (make test): median {test:.1f} s, {packages['install-test']} packages")
    print(f"ratio: {product / test:.2f} (target <= 0.50)")


if __name__ == "__main__":
    main()
