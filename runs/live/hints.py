"""Wake-up hints: "run R has new events". Only hints: subscribers always read the event table.

- ``notify``: PostgreSQL NOTIFY, sent inside the transaction that writes the events (so it is
  delivered exactly when they become visible);
- ``channel_layer``: a message to a Channels group (Redis), for several ASGI processes;
- ``poll``: nothing is sent; pumps poll the table (SQLite default).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "dagviz_events"
HINT_GROUP = "dagviz.events"


def wakeup_method() -> str:
    """``DAGVIZ_EVENT_WAKEUP``, or by default: notify on PostgreSQL, channel_layer with Redis, else poll."""
    chosen = getattr(settings, "DAGVIZ_EVENT_WAKEUP", "auto")
    if chosen != "auto":
        return chosen
    if connection.vendor == "postgresql":
        return "notify"
    if "redis" in settings.CHANNEL_LAYERS["default"]["BACKEND"].lower():
        return "channel_layer"
    return "poll"


def send_in_transaction(cursor: Any, run_id: str) -> None:
    """Inside the writing transaction: NOTIFY (delivered at commit)."""
    if connection.vendor == "postgresql":
        cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, run_id])


def send_after_commit(run_id: str) -> None:
    """After the commit: a channel-layer message, when the layer is shared between processes."""
    if wakeup_method() != "channel_layer":
        return
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    try:
        async_to_sync(get_channel_layer().group_send)(HINT_GROUP, {"type": "events.new", "run_id": run_id})
    except Exception:  # a lost hint only delays delivery until the next poll; the events are committed
        logger.warning("Could not send the new-events hint for run %s", run_id, exc_info=True)
