"""A short text preview of an output value, computed where the value is, when the step writes it.

The web UI shows the preview stored with the step, so it never loads an output (a 50 MB value
would cost a full read and unpickling for 500 characters). Computing the preview is bounded
too: strings and bytes are cut before they are repr'd, containers show their first items only,
and once the preview is long enough the remaining items are not looked at. Objects of other
classes are shown by their own ``repr`` (numpy and pandas bound theirs), cut to the limit.
"""

from __future__ import annotations

import builtins
import enum
import functools
import reprlib
from array import array
from collections import deque
from itertools import islice
from typing import Any, Callable

from dagviz.env import env_int

PREVIEW_CHARS_ENV_VAR = "DAGVIZ_OUTPUT_PREVIEW_CHARS"
DEFAULT_PREVIEW_CHARS = 500
MARK = "…"  # ends a preview that was cut

# The reprlib method for each builtin type; a subclass uses its nearest builtin base's.
_METHODS = {
    str: "repr_str", bytes: "repr_bytes", bytearray: "repr_bytes", int: "repr_int",
    list: "repr_list", tuple: "repr_tuple", dict: "repr_dict", set: "repr_set", frozenset: "repr_frozenset",
    deque: "repr_deque", array: "repr_array",
}
_CONTAINERS = frozenset({list, tuple, dict, set, frozenset, deque, array})
_SCALARS = frozenset({bool, float, complex, type(None)})


@functools.cache
def preview_chars() -> int:
    """The longest preview, in characters (``DAGVIZ_OUTPUT_PREVIEW_CHARS``, read once where steps run)."""
    return max(1, env_int(PREVIEW_CHARS_ENV_VAR, DEFAULT_PREVIEW_CHARS))


def output_preview(value: Any, limit: int | None = None) -> str:
    """A ``repr``-like text of ``value`` of at most ``limit`` characters, whatever the value's size."""
    limit = preview_chars() if limit is None else limit
    try:
        text = _short_scalar(value, limit) or _BoundedRepr(limit).repr(value)
    except Exception as error:  # a preview must never fail the step that produced the value
        text = f"<{type(value).__name__} object: no preview ({type(error).__name__})>"
    return cut(_storable(text), limit)


def _storable(text: str) -> str:
    """``text`` as every database stores it: PostgreSQL's JSON refuses NUL and unpaired surrogates,
    which an object's own ``repr`` may return."""
    return text.replace("\0", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def _short_scalar(value: Any, limit: int) -> str | None:
    """The repr of a value that is small by its type (most outputs of a big fan-out), without the machinery."""
    kind = type(value)
    if kind in _SCALARS or (kind is int and value.bit_length() < 64) or (kind is str and len(value) <= limit):
        return repr(value)
    return None


def cut(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its start and a mark."""
    return text if len(text) <= limit else text[: limit - 1] + MARK


@functools.lru_cache(maxsize=512)
def _builtin_base(cls: type) -> type | None:
    return next((base for base in cls.__mro__ if base in _METHODS), None)


class _BoundedRepr(reprlib.Repr):
    """``reprlib.Repr`` with a budget of characters for one preview.

    reprlib's own limits bound each container and string, but not their product: six levels of
    250-item lists would still be visited whole. Every item shown spends from the budget (a
    container its brackets, anything else its text); once it is spent, items are not visited.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.maxstring = self.maxother = self.maxlong = limit
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = limit // 2 + 1
        self.maxfrozenset = self.maxdeque = self.maxarray = limit // 2 + 1
        self._left = limit

    def repr1(self, x: Any, level: int) -> str:
        if self._left <= 0:
            return self.fillvalue
        base = _builtin_base(type(x))
        text = self._repr_any(x, base, level)
        self._left -= 2 if base in _CONTAINERS else len(text)
        return text

    def _repr_any(self, x: Any, base: type | None, level: int) -> str:
        if base is None or isinstance(x, enum.Enum):  # enum members are constants of the code
            return self.repr_instance(x, level)
        method: Callable[[Any, int], str] = getattr(self, _METHODS[base])
        if type(x).__repr__ is base.__repr__:
            return method(x, level)
        if base not in _CONTAINERS:  # bool, or a str subclass with its own repr: short by nature
            return self.repr_instance(x, level)
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return self._repr_namedtuple(x, level)
        # A subclass with its own repr (OrderedDict, Counter, ...) would show every item: show the base's, named.
        return f"{type(x).__name__}({method(x, level)})"

    def _repr_namedtuple(self, x: tuple, level: int) -> str:
        if level <= 0:
            return f"{type(x).__name__}({self.fillvalue})"
        pieces = [f"{name}={self.repr1(item, level - 1)}" for name, item in islice(zip(x._fields, x), self.maxtuple)]
        if len(x) > self.maxtuple:
            pieces.append(self.fillvalue)
        return f"{type(x).__name__}({', '.join(pieces)})"

    # reprlib sorts dicts and sets first (a whole pass over a million items) and loses insertion order.
    def repr_dict(self, x: dict, level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{" + self.fillvalue + "}"
        pieces = [f"{self.repr1(key, level - 1)}: {self.repr1(item, level - 1)}"
                  for key, item in islice(x.items(), self.maxdict)]
        if len(x) > self.maxdict:
            pieces.append(self.fillvalue)
        return "{" + ", ".join(pieces) + "}"

    def repr_set(self, x: set, level: int) -> str:
        return self._repr_iterable(x, level, "{", "}", self.maxset) if x else "set()"

    def repr_frozenset(self, x: frozenset, level: int) -> str:
        return self._repr_iterable(x, level, "frozenset({", "})", self.maxfrozenset) if x else "frozenset()"

    def repr_bytes(self, x: bytes | bytearray, level: int) -> str:
        text = builtins.repr(bytes(x[: self.maxstring]))
        if len(x) > self.maxstring:
            text += self.fillvalue
        return f"bytearray({text})" if isinstance(x, bytearray) else text

    def repr_int(self, x: int, level: int) -> str:
        # Python refuses to format ints beyond 4,300 digits; such an int would be cut anyway.
        if x.bit_length() > 4 * self.maxlong:
            return f"<int of {x.bit_length():,} bits>"
        return super().repr_int(x, level)
