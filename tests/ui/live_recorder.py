"""What the run page showed over time: a MutationObserver, injected before the page's scripts,
notes the run status, every op's counts (``node-<op>`` data attributes) and the key rows each
time they change, so a test can check afterwards that counts grew live (not only at the end)."""

from __future__ import annotations

from typing import Any

RECORDER = """
(() => {
  window.__snapshots = [];
  const take = () => {
    const nodes = {};
    for (const item of document.querySelectorAll('[data-testid^="node-"][data-total]')) {
      nodes[item.dataset.testid.slice(5)] = Object.fromEntries(
        ['total', 'pending', 'running', 'succeeded', 'failed', 'skipped', 'reused'].map((f) => [f, Number(item.dataset[f])]));
    }
    const status = document.querySelector('[data-testid="run-status"]');
    window.__snapshots.push({
      t: performance.now(), status: status ? status.textContent.trim() : null, nodes,
      rows: document.querySelectorAll('[data-testid="key-row"]').length,
    });
  };
  const start = () => {
    take();
    new MutationObserver(take).observe(document.body, { subtree: true, childList: true, attributes: true,
      attributeFilter: ['data-total', 'data-running', 'data-succeeded', 'data-failed', 'data-step-key'] });
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
"""


def record_live_counts(page) -> None:
    page.add_init_script(RECORDER)


def snapshots(page) -> list[dict[str, Any]]:
    return page.evaluate("window.__snapshots || []")
