"""Run a blocking call with a deadline, so a hung run fails its test instead of the whole suite."""

from __future__ import annotations

import threading
from typing import Any, Callable


def within(seconds: float, run: Callable[[], Any]) -> Any:
    """Call ``run()`` in a thread; fail the test if it has not returned within ``seconds``."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = run()
        except BaseException as error:  # re-raised in the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the run did not finish within {seconds:g} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
