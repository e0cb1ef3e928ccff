"""Run a coroutine to its end from a synchronous test, whatever else runs in the test's thread."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Coroutine


def run_async(coroutine: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
    """``asyncio.run(coroutine)`` in a thread of its own, with a timeout.

    Once the session's browser has started, Playwright's sync API keeps an event loop running in
    the main thread, where ``asyncio.run`` refuses to start; a fresh thread has no loop.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coroutine, timeout)).result()
