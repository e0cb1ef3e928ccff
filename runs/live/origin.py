"""Websocket origin checks: browsers must come from an allowed host; non-browser clients send no Origin.

Cross-site websocket hijacking needs a browser, and browsers always send ``Origin``; scripts
(``gql``, ``websockets``) usually send none, and are let through as HTTP API clients are.
"""

from __future__ import annotations

from typing import Any

from channels.security.websocket import AllowedHostsOriginValidator


class BrowserOriginValidator:
    """``AllowedHostsOriginValidator`` for connections that carry an Origin header."""

    def __init__(self, application: Any) -> None:
        self.application = application
        self.validated = AllowedHostsOriginValidator(application)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        has_origin = any(name == b"origin" for name, _ in scope.get("headers", []))
        target = self.validated if has_origin else self.application
        return await target(scope, receive, send)
