"""Benchmark: the run page of a 10,000-key run in headless Chromium, against a real daphne server.

1. Live: the page is opened right after ``big_fanout`` (10,000 keys) is launched and stays
   open until the run ends. A PerformanceObserver (``longtask``, buffered) records every
   main-thread task over 50 ms; meanwhile the bench clicks an op of the op list every 200 ms
   and measures, with the page's clock, click -> the selection painted (Event Timing too).
2. Finished: the same run's page is opened again in a fresh browser context (no cache),
   ``--repeat`` times. Time to interactive = navigation start -> the page's
   ``dagviz:interactive`` mark (header, counts, status and the first page of keys drawn, every
   handler attached; the graph is drawn next, in its own tasks); then a key row is clicked
   and the time until its step drawer (fetched from the server) is painted is measured.
   ``grid_complete_ms``: until every key is in the status grid (loaded in the background).
3. Memory of the page: JS heap (CDP ``Performance.getMetrics``), DOM nodes, and the RSS of the
   renderer process (psutil), after the finished run page has loaded every key.

A run with more steps than ``--full-index-max-steps`` (the server's DAGVIZ_UI_FULL_INDEX_MAX_STEPS,
100,000 by default) is "large": its page holds no step index; the grid draws tiles (Run.statusTiles),
so ``grid_complete_ms`` is then until the tiles hold every key, and ``large_mode`` says which it was.
``--home`` with ``--run-id`` measures an existing finished run of another bench's DAGVIZ_HOME (e.g.
``bench/million_keys.py``) instead of launching one; ``--skip-live`` leaves out the live part.

    python bench/ui_bigrun.py [--keys 10000] [--repeat 5] [--executor in_process] [--skip-live]
                              [--full-index-max-steps N] [--home DIR --run-id ID]

Prints one JSON object. Needs /usr/bin/chromium (apt-get install chromium) and playwright.
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
        "--disable-component-update", "--no-first-run", "--disable-sync", "--enable-precise-memory-info"]

OBSERVERS = """
window.__longtasks = [];
window.__events = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longtasks.push(e.duration); })
  .observe({ type: 'longtask', buffered: true });
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__events.push([e.name, e.duration]); })
  .observe({ type: 'event', buffered: true, durationThreshold: 16 });
"""


# Click in the page and wait for the result to be painted, timed with the page's own clock.
CLICK_OP = """async (node) => {
  const button = document.querySelector(`[data-testid="node-${node}"] .node-name`);
  const t0 = performance.now();
  button.click();
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  if (!document.querySelector(`[data-testid="node-${node}"].selected`)) throw new Error('not selected');
  return performance.now() - t0;
}"""
CLICK_KEY = """async (key) => {
  const row = document.querySelector(`[data-testid="key-row"][data-step-key="${key}"]`);
  const drawer = document.querySelector('[data-testid="step-drawer"]');
  const t0 = performance.now();
  row.click();
  await new Promise((resolve) => {
    const check = () => drawer.querySelector('[data-testid="step-output"]') ? resolve() : requestAnimationFrame(check);
    check();
  });
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  return performance.now() - t0;
}"""


def launch(base: str, keys: int, executor: str) -> str:
    config = json.dumps({"ops": {"emit_many": {"config": {"n": keys}}}})
    data = graphql_data(f"{base}/graphql", """mutation($config: JSONString, $executor: String) {
        launchRun(jobName: "big_fanout", runConfig: $config, executor: $executor) {
          __typename ... on LaunchRunSuccess { run { id } } } }""", {"config": config, "executor": executor})
    return data["launchRun"]["run"]["id"]


def wait_finished(base: str, run_id: str, timeout: float = 120) -> str:  # a million keys: pass a longer timeout
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = graphql_data(f"{base}/graphql", "query($id: ID!) { run(id: $id) { status } }", {"id": run_id})["run"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(0.2)
    raise TimeoutError(run_id)


def renderer_rss_mb(browser_pid_hint: int) -> float | None:
    """The largest RSS among Chromium renderer processes started by this bench."""
    try:
        import psutil
    except ImportError:
        return None
    best = 0
    for process in psutil.Process(browser_pid_hint).children(recursive=True):
        try:
            if "--type=renderer" in " ".join(process.cmdline()):
                best = max(best, process.memory_info().rss)
        except psutil.Error:
            continue
    return round(best / 2**20, 1) if best else None


def heap(page) -> dict:
    session = page.context.new_cdp_session(page)
    session.send("HeapProfiler.collectGarbage")
    session.send("Performance.enable")
    metrics = {item["name"]: item["value"] for item in session.send("Performance.getMetrics")["metrics"]}
    session.detach()
    return {"js_heap_used_mb": round(metrics["JSHeapUsedSize"] / 2**20, 1),
            "js_heap_total_mb": round(metrics["JSHeapTotalSize"] / 2**20, 1),
            "dom_nodes": int(metrics["Nodes"])}


def measure_live(browser, base: str, keys: int, executor: str) -> dict:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.add_init_script(OBSERVERS)
    run_id = launch(base, keys, executor)
    page.goto(f"{base}/runs/{run_id}/")
    seen_status = page.get_by_test_id("run-status").text_content()
    clicks = []
    targets = ["emit_many", "add_one"]
    index = 0
    while True:
        status = page.get_by_test_id("run-status").text_content()
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        node = targets[index % 2]
        index += 1
        clicks.append(page.evaluate(CLICK_OP, node))
        page.wait_for_timeout(200)
    expect(page.get_by_test_id("node-add_one")).to_have_attribute("data-succeeded", str(keys), timeout=120_000)
    page.wait_for_timeout(1500)  # the final refreshes of the table and the grid
    longtasks = page.evaluate("window.__longtasks")
    events = page.evaluate("window.__events")
    result = {
        "run_id": run_id,
        "status_when_page_opened": seen_status,
        "clicks_during_run": len(clicks),
        "click_op_to_painted_ms_max": round(max(clicks), 1) if clicks else None,
        "click_op_to_painted_ms_median": round(statistics.median(clicks), 1) if clicks else None,
        "longtasks_over_50ms": len(longtasks),
        "longest_task_ms": round(max(longtasks), 1) if longtasks else 0.0,
        "slowest_input_event_ms": max((round(duration) for name, duration in events
                                        if name in ("click", "pointerdown", "pointerup", "mousedown", "mouseup")), default=0),
        **{f"live_{key}": value for key, value in heap(page).items()},
    }
    context.close()
    return result


def measure_finished(browser, base: str, run_id: str, repeat: int, keys: int) -> dict:
    from playwright.sync_api import expect

    tti, click, grid, tasks = [], [], [], []
    memory = {}
    large = False
    for attempt in range(repeat):
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = context.new_page()
        page.add_init_script(OBSERVERS)
        page.goto(f"{base}/runs/{run_id}/?node=add_one")
        page.wait_for_function("document.body.dataset.ready === 'true'", timeout=30_000)
        tti.append(page.evaluate("performance.getEntriesByName('dagviz:interactive')[0].startTime"))
        click.append(page.evaluate(CLICK_KEY, "add_one[k5]"))
        expect(page.get_by_test_id("step-drawer").get_by_test_id("step-output")).to_be_visible()
        large = page.evaluate("window.dagviz.isLarge()")
        if large:  # every key counted in the tiles of add_one
            page.wait_for_function("(n) => { const grid = document.querySelector('[data-testid=status-grid]'); "
                                   "return grid.dataset.mode === 'tiles' && Number(grid.dataset.keys) === n; }",
                                   arg=keys, timeout=60_000)
        else:
            page.wait_for_function("window.dagviz.stepIndex.complete", timeout=60_000)
        grid.append(page.evaluate("performance.now()"))
        page.wait_for_timeout(300)
        tasks.extend(page.evaluate("window.__longtasks"))
        if attempt == repeat - 1:
            memory = {**heap(page), "renderer_rss_mb": renderer_rss_mb(os.getpid())}
        context.close()
    return {
        "large_mode": large,
        "time_to_interactive_ms_median": round(statistics.median(tti)),
        "time_to_interactive_ms_max": round(max(tti)),
        "click_key_to_drawer_painted_ms_median": round(statistics.median(click)),
        "grid_complete_ms_median": round(statistics.median(grid)),
        "longest_task_ms": round(max(tasks), 1) if tasks else 0.0,
        **{f"finished_{key}": value for key, value in memory.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", "--n", dest="keys", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--executor", default="in_process")
    parser.add_argument("--skip-live", action="store_true", help="launch and wait, without the live page")
    parser.add_argument("--full-index-max-steps", type=int, default=None,
                        help="the server's DAGVIZ_UI_FULL_INDEX_MAX_STEPS (default: the setting's, 100,000)")
    parser.add_argument("--home", default=None, help="an existing DAGVIZ_HOME (with --run-id)")
    parser.add_argument("--run-id", default=None, help="a finished big_fanout run of --home with --keys keys")
    options = parser.parse_args()

    home = Path(options.home) if options.home else Path(tempfile.mkdtemp(prefix="dagviz-uibench-"))
    env = {**os.environ, "DAGVIZ_HOME": str(home), "DJANGO_SETTINGS_MODULE": "dagviz.server.settings",
           "DAGVIZ_WORKSPACE": "dagviz.examples"}
    if options.full_index_max_steps is not None:
        env["DAGVIZ_UI_FULL_INDEX_MAX_STEPS"] = str(options.full_index_max_steps)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    with daphne(env) as base:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            run_wait = 120 + options.keys * 0.002  # 2 ms a key at most
            if options.run_id:
                live = {"run_id": options.run_id, "skipped": "an existing run"}
            elif options.skip_live:
                live = {"run_id": launch(base, options.keys, options.executor), "skipped": "--skip-live"}
            else:
                live = measure_live(browser, base, options.keys, options.executor)
            assert wait_finished(base, live["run_id"], run_wait) == "SUCCESS"
            finished = measure_finished(browser, base, live["run_id"], options.repeat, options.keys)
            browser.close()
    print(json.dumps({"keys": options.keys, "executor": options.executor, "repeat": options.repeat,
                      "live": live, "finished": finished}, indent=2))


if __name__ == "__main__":
    main()
