"""What every template needs to know about authentication: whether it is on, and the signed-in user's role."""

from __future__ import annotations

from django.http import HttpRequest

from runs.auth.roles import auth_enabled, role_of


def auth_context(request: HttpRequest) -> dict[str, object]:
    """``dagviz_auth`` (bool) and ``dagviz_role`` (the role's name, or None), for the header."""
    enabled = auth_enabled()
    # Only look the role up when the header shows it: it costs a query.
    role = role_of(getattr(request, "user", None)) if enabled else None
    return {"dagviz_auth": enabled, "dagviz_role": role.value if role else None}
