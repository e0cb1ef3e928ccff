"""Metadata attached to outputs and failures: plain JSON-friendly values, so every sink can store it."""

from __future__ import annotations

from typing import Any, Mapping

_PLAIN = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    inner = getattr(value, "value", None)  # wrappers such as Dagster's MetadataValue.text(...) carry .value
    if inner is not None and inner is not value:
        return _plain(inner)
    return str(value)


def normalize_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """``metadata`` with every value turned into JSON-friendly data (anything else becomes its ``str``)."""
    if not metadata:
        return {}
    if not isinstance(metadata, Mapping):
        from dagviz.errors import InvalidDefinitionError

        raise InvalidDefinitionError(f"metadata must be a dict of label -> value, got {type(metadata).__name__}.")
    return {str(label): _plain(value) for label, value in metadata.items()}
