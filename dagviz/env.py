"""Typed readers for environment variables used by the dagviz settings.

Each reader returns the default when the variable is unset or empty, and
raises ``ValueError`` naming the variable when its value cannot be parsed, so
a misconfigured deployment fails at start-up with a message that says what to fix.
"""

from __future__ import annotations

import os

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def env_str(name: str, default: str) -> str:
    """Return the variable's value, or ``default`` when unset or empty."""
    value = os.environ.get(name, "")
    return value if value != "" else default


def env_bool(name: str, default: bool) -> bool:
    """Return the variable as a boolean (1/0, true/false, yes/no, on/off)."""
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(
        f"Environment variable {name}={os.environ[name]!r} is not a boolean; "
        f"use one of {sorted(_TRUE | _FALSE)}."
    )


def env_int(name: str, default: int) -> int:
    """Return the variable as an integer."""
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(
            f"Environment variable {name}={os.environ[name]!r} is not an integer; "
            f"set it to a whole number such as {default}."
        ) from None


def env_float(name: str, default: float) -> float:
    """Return the variable as a number (``10``, ``0.5``)."""
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(
            f"Environment variable {name}={os.environ[name]!r} is not a number; "
            f"set it to a number such as {default:g}."
        ) from None


def env_list(name: str, default: list[str]) -> list[str]:
    """Return the variable as a list split on commas, blank items dropped."""
    raw = os.environ.get(name, "")
    if raw.strip() == "":
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]
