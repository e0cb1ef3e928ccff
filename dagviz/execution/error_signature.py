"""Error signatures: one short digest per cause of failure, so thousands of failed keys fall into a few groups.

Two failures have the same cause when they raise the same exception class with the same message
once the parts that vary per key are taken out: numbers, quoted values, ids, digests, file paths
and memory addresses. ``KeyError: 'k17'`` and ``KeyError: 'k903'`` are one cause; a ``KeyError``
and a ``ValueError``, or two different sentences, are two. The database keeps the signature on each
failed step row, so grouping a run's failures is one ``GROUP BY``.
"""

from __future__ import annotations

import hashlib
import re

# The normalised message shown for a group is at most this long; longer inputs are cut before the
# patterns run, so a megabyte-long message costs no more than a short one.
MAX_NORMALISED_CHARS = 300
_MAX_SCANNED_CHARS = 4000
SIGNATURE_HEX_CHARS = 16

NUMBER = "<n>"
VALUE = "'<v>'"
ID = "<id>"
PATH = "<path>"
ADDRESS = "<addr>"

# Applied in this order: a quoted value may hold a path or a number, an id holds digits.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # 'value' and "value"; an apostrophe inside a word ("can't") opens nothing.
    (re.compile(r"(?<![\w'\"])'[^'\n]*'(?![\w'])"), VALUE),
    (re.compile(r"(?<![\w'\"])\"[^\"\n]*\"(?![\w\"])"), VALUE),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), ADDRESS),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), ID),
    # Digests and hex ids: 8 or more hex characters with at least one digit (so plain words such as
    # "deadbeef" or "accepted" stay words).
    (re.compile(r"\b(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{8,}\b"), ID),
    # Paths (/a/b.py, ./x, C:\dir\f.txt), with an optional ":line" or ", line N".
    (re.compile(r"(?:[A-Za-z]:\\|\.{0,2}/)[\w.\-/\\]*[\w\-](?::\d+)*(?:, line \d+)?"), PATH),
    (re.compile(r"\d+(?:[.,]\d+)*(?:[eE][-+]?\d+)?"), NUMBER),
    (re.compile(r"\s+"), " "),
)


def normalise_message(message: str) -> str:
    """The message with per-key details replaced by placeholders, whitespace collapsed, at most 300 characters.

    >>> normalise_message("bad row 12 in '/data/part-3.csv'")
    "bad row <n> in '<v>'"
    """
    text = (message or "")[:_MAX_SCANNED_CHARS]
    for pattern, placeholder in _PATTERNS:
        text = pattern.sub(placeholder, text)
    text = text.strip()
    if len(text) > MAX_NORMALISED_CHARS:
        text = text[:MAX_NORMALISED_CHARS - 1].rstrip() + "…"
    return text


def error_signature(class_name: str, message: str) -> str:
    """A short, stable hex digest of the error class and the normalised message: the failure's cause."""
    text = f"{(class_name or '').strip()}\n{normalise_message(message)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:SIGNATURE_HEX_CHARS]
