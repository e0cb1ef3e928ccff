"""Values an op yields: ``Output`` for a plain output, ``DynamicOutput`` for one key of a fan-out."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from dagviz.step_keys import validate_mapping_key

DEFAULT_OUTPUT = "result"
T = TypeVar("T")


class Output(Generic[T]):
    """A value for one of the op's plain outputs (``output_name`` defaults to ``result``); ``Output[int]`` types it."""

    __slots__ = ("value", "output_name", "metadata")

    def __init__(self, value: Any, output_name: str = DEFAULT_OUTPUT, metadata: dict | None = None) -> None:
        self.value = value
        self.output_name = output_name
        self.metadata = metadata or {}

    def __repr__(self) -> str:
        return f"Output(value={self.value!r}, output_name={self.output_name!r})"


class DynamicOutput(Generic[T]):
    """One key of a dynamic output; downstream ``.map()`` runs once per key (``DynamicOutput[int]`` types it).

    The mapping key is validated here, when the op constructs it, so an invalid key fails
    the emitting step with a message naming the key.
    """

    __slots__ = ("_value", "_mapping_key", "_output_name", "_metadata")

    def __init__(
        self, value: Any, mapping_key: str, output_name: str = DEFAULT_OUTPUT, metadata: dict | None = None
    ) -> None:
        self._mapping_key = validate_mapping_key(mapping_key)
        self._value = value
        self._output_name = output_name
        self._metadata = metadata or {}

    @property
    def value(self) -> Any:
        return self._value

    @property
    def mapping_key(self) -> str:
        return self._mapping_key

    @property
    def output_name(self) -> str:
        return self._output_name

    @property
    def metadata(self) -> dict:
        return self._metadata

    def __repr__(self) -> str:
        return (
            f"DynamicOutput(value={self._value!r}, mapping_key={self._mapping_key!r}, "
            f"output_name={self._output_name!r})"
        )
