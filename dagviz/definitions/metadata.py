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
    if isinstance(value, MetadataValue) or hasattr(value, "value"):  # MetadataValue.url(...) and the like
        return _plain(value.value)
    return str(value)


def normalize_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """``metadata`` with every value turned into JSON-friendly data (anything else becomes its ``str``)."""
    if not metadata:
        return {}
    if not isinstance(metadata, Mapping):
        from dagviz.errors import InvalidDefinitionError

        raise InvalidDefinitionError(f"metadata must be a dict of label -> value, got {type(metadata).__name__}.")
    return {str(label): _plain(value) for label, value in metadata.items()}


class MetadataValue:
    """A typed metadata value, as Dagster writes them (``MetadataValue.url("http://...")``); ``.value`` is plain."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: Any) -> None:
        self.kind = kind
        self.value = value

    def __repr__(self) -> str:
        return f"{self.kind.capitalize()}MetadataValue(value={self.value!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MetadataValue) and (other.kind, other.value) == (self.kind, self.value)

    def __hash__(self) -> int:
        return hash((self.kind, repr(self.value)))

    @staticmethod
    def wrap(value: Any) -> "MetadataValue":
        """A plain value (as events store it) as the typed value Dagster's event data hands out."""
        if isinstance(value, MetadataValue):
            return value
        for python_type, kind in _KINDS:
            if isinstance(value, python_type):
                return MetadataValue(kind, value)
        return MetadataValue("json" if isinstance(value, (dict, list)) else "text", value)

    @staticmethod
    def text(text: str) -> "MetadataValue":
        return MetadataValue("text", text)

    @staticmethod
    def int(value: int) -> "MetadataValue":
        return MetadataValue("int", value)

    @staticmethod
    def float(value: float) -> "MetadataValue":
        return MetadataValue("float", value)

    @staticmethod
    def bool(value: bool) -> "MetadataValue":
        return MetadataValue("bool", value)

    @staticmethod
    def json(data: Any) -> "MetadataValue":
        return MetadataValue("json", data)

    @staticmethod
    def url(url: str) -> "MetadataValue":
        return MetadataValue("url", url)

    @staticmethod
    def path(path: Any) -> "MetadataValue":
        return MetadataValue("path", str(path))

    @staticmethod
    def md(markdown: str) -> "MetadataValue":
        return MetadataValue("md", markdown)

    @staticmethod
    def null() -> "MetadataValue":
        return MetadataValue("null", None)

    @staticmethod
    def timestamp(value: Any) -> "MetadataValue":
        return MetadataValue("timestamp", value)


# The kind of a plain metadata value (bool before int: a bool is an int too).
_KINDS = ((bool, "bool"), (int, "int"), (float, "float"), (str, "text"), (type(None), "null"))
