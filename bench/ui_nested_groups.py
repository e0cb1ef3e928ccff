"""Benchmark: a nested fan-out's keys grouped by outer key on the run page, in headless Chromium.

``nested_fanout`` runs with ``--regions`` outer keys of ``--customers`` inner keys each
(100 x 1,000 = 100,000 ``score`` steps by default), then its finished page is opened with
``?node=score`` ``--repeat`` times in a fresh context:

- ``groups_complete_ms``: navigation start -> every key in the step index (grouped as it
  arrives, in one pass) and every group row's count final;
- ``render_table_ms`` / ``render_grid_ms``: one ``render()`` of the grouped table and of the
  grouped grid with every key loaded (median of 20 calls each, forced layout for the grid);
- ``expand_group_ms``: a click on a collapsed group -> its key rows painted;
- ``longest_task_ms``: the longest main-thread task while the page loaded everything.

    python bench/ui_nested_groups.py [--regions 100] [--customers 1000] [--repeat 5]

Prints one JSON object. Needs /usr/bin/chromium and playwright.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support import ROOT, daphne, graphql_data

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
LONGTASKS = """window.__longtasks = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longtasks.push(e.duration); })
  .observe({ type: 'longtask', buffered: true });"""
RENDER_TIMES = """() => {
  const time = (fn) => { const t0 = performance.now(); fn(); return performance.now() - t0; };
  const table = [], grid = [];
  for (let i = 0; i < 20; i += 1) {
    table.push(time(() => window.dagviz.table.render()));
    grid.push(time(() => window.dagviz.grid.render(true)));
  }
  const median = (values) => values.sort((a, b) => a - b)[values.length >> 1];
  return { table: median(table), grid: median(grid) };
}"""
EXPAND = """async (outer) => {
  const row = document.querySelector(`[data-testid="key-group"][data-outer-key="${outer}"]`);
  const t0 = performance.now();
  row.click();
  await new Promise((resolve) => {
    const check = () => document.querySelector(`[data-testid="key-row"][data-step-key^="score[${outer}]["]`)
      ? resolve() : requestAnimationFrame(check);
    check();
  });
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  return performance.now() - t0;
}"""


def launch(base: str, regions: int, customers: int) -> str:
    config = json.dumps({"ops": {"regions": {"config": {"regions": [f"r{index}" for index in range(regions)],
                                                        "customers_per_region": customers}}}})
    data = graphql_data(f"{base}/graphql", """mutation($config: JSONString) {
        launchRun(jobName: "nested_fanout", runConfig: $config) {
          __typename ... on LaunchRunSuccess { run { id } } } }""", {"config": config})
    return data["launchRun"]["run"]["id"]


def wait_finished(base: str, run_id: str, timeout: float = 1800) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = graphql_data(f"{base}/graphql", "query($id: ID!) { run(id: $id) { status } }", {"id": run_id})["run"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(1)
    raise TimeoutError(run_id)


def measure(browser, base: str, run_id: str, regions: int, customers: int, repeat: int) -> dict:
    complete, table, grid, expand, tasks = [], [], [], [], []
    for attempt in range(repeat):
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = context.new_page()
        page.add_init_script(LONGTASKS)
        page.goto(f"{base}/runs/{run_id}/?node=score")
        page.wait_for_function(
            f"""window.dagviz && window.dagviz.stepIndex.complete
                && window.dagviz.stepIndex.node('score').keys.length === {regions * customers}
                && document.querySelectorAll('[data-testid=key-group]').length > 0""", timeout=120_000, polling=50)
        complete.append(page.evaluate("performance.now()"))
        times = page.evaluate(RENDER_TIMES)
        table.append(times["table"])
        grid.append(times["grid"])
        expand.append(page.evaluate(EXPAND, f"r{attempt % regions}"))
        tasks.extend(page.evaluate("window.__longtasks"))
        context.close()
    return {
        "groups_complete_ms_median": round(statistics.median(complete)),
        "render_table_ms_median": round(statistics.median(table), 2),
        "render_grid_ms_median": round(statistics.median(grid), 2),
        "expand_group_ms_median": round(statistics.median(expand), 1),
        "longest_task_ms": round(max(tasks), 1) if tasks else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=100)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="dagviz-nestedbench-"))
    env = {**os.environ, "DAGVIZ_HOME": str(home), "DJANGO_SETTINGS_MODULE": "dagviz.server.settings",
           "DAGVIZ_WORKSPACE": "dagviz.examples"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    with daphne(env) as base:
        from playwright.sync_api import sync_playwright

        run_id = launch(base, options.regions, options.customers)
        started = time.monotonic()
        assert wait_finished(base, run_id) == "SUCCESS"
        run_seconds = time.monotonic() - started
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            result = measure(browser, base, run_id, options.regions, options.customers, options.repeat)
            browser.close()
    print(json.dumps({"regions": options.regions, "customers": options.customers,
                      "keys": options.regions * options.customers, "repeat": options.repeat,
                      "run_seconds": round(run_seconds, 1), **result}, indent=2))


if __name__ == "__main__":
    main()
