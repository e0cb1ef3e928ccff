"""A mapping of keys to output refs that keeps each segment ref as one integer instead of a string.

A run of a million keys keeps, for each emitter output, every yielded key's ref (the mapped
steps created later and the run's result read them). A segment ref such as
``<run id>/@seg/<writer>/<offset>/<length>`` is a ~118-byte string; its head is the same for
thousands of refs, so it is kept once and each ref becomes one integer (about 36 bytes) that
numbers the head and holds the two numbers. A ref of any other shape is kept as it is.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

_LENGTH_BITS = 32
_HEAD_BITS = 16


def _decimal(text: str) -> int | None:
    """``text`` as an int if it is exactly how Python writes that int (so the ref can be rebuilt as it was)."""
    if text.isascii() and text.isdigit() and (text[0] != "0" or text == "0"):
        return int(text)
    return None


class CompactRefs(MutableMapping[str, str]):
    """Key -> ref in insertion order, a ref ending in ``/<offset>/<length>`` stored as one integer."""

    __slots__ = ("_codes", "_heads", "_head_numbers")

    def __init__(self) -> None:
        self._codes: dict[str, int | str] = {}
        self._heads: list[str] = []
        self._head_numbers: dict[str, int] = {}

    def _encode(self, ref: str) -> int | str:
        parts = ref.rsplit("/", 2)
        if len(parts) != 3 or not parts[0]:
            return ref
        head, offset, length = parts[0], _decimal(parts[1]), _decimal(parts[2])
        if offset is None or length is None or length >> _LENGTH_BITS:
            return ref
        number = self._head_numbers.get(head)
        if number is None:
            if len(self._heads) >> _HEAD_BITS:
                return ref  # more heads than the code has room for: keep the string
            number = self._head_numbers[head] = len(self._heads)
            self._heads.append(head)
        return (((offset << _LENGTH_BITS) | length) << _HEAD_BITS) | number

    def _decode(self, code: int | str) -> str:
        if isinstance(code, str):
            return code
        rest = code >> _HEAD_BITS
        return f"{self._heads[code & ((1 << _HEAD_BITS) - 1)]}/{rest >> _LENGTH_BITS}/{rest & ((1 << _LENGTH_BITS) - 1)}"

    def __getitem__(self, key: str) -> str:
        return self._decode(self._codes[key])

    def __setitem__(self, key: str, ref: str) -> None:
        self._codes[key] = self._encode(ref)

    def __delitem__(self, key: str) -> None:
        del self._codes[key]

    def __contains__(self, key: object) -> bool:
        return key in self._codes

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    def __len__(self) -> int:
        return len(self._codes)

    def __repr__(self) -> str:
        return repr(dict(self.items()))
