"""Error signatures: failures of one cause share a signature whatever key, number or path they name."""

from __future__ import annotations

import pytest

from dagviz.execution.error_signature import MAX_NORMALISED_CHARS, error_signature, normalise_message


@pytest.mark.parametrize("message, expected", [
    ("'k17'", "'<v>'"),
    ('no such column "amount_eur"', "no such column '<v>'"),
    ("bad row 12", "bad row <n>"),
    ("took 3.25 s, limit 1,000", "took <n> s, limit <n>"),
    ("object at 0x7f3a2b1c9d40 is closed", "object at <addr> is closed"),
    ("run 5b0c1e2a-9f7d-4c61-8a0e-0d4f3c2b1a99 not found", "run <id> not found"),
    ("checksum 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b mismatch", "checksum <id> mismatch"),
    ("cannot read /data/in/part-0007.csv", "cannot read <path>"),
    ("error in ./jobs/etl.py:42", "error in <path>"),
    ("can't parse   the\n\tvalue", "can't parse the value"),
    ("accepted deadbeef words stay", "accepted deadbeef words stay"),
])
def test_normalise_message_replaces_what_varies_per_key(message, expected):
    assert normalise_message(message) == expected


def test_normalise_message_is_bounded_even_for_huge_messages():
    normalised = normalise_message("word " * 1_000_000)
    assert len(normalised) <= MAX_NORMALISED_CHARS
    assert normalised.endswith("…")


def test_a_missing_message_normalises_to_an_empty_text():
    assert normalise_message("") == ""
    assert normalise_message(None) == ""  # type: ignore[arg-type]


def test_keys_and_numbers_do_not_change_the_signature():
    assert error_signature("KeyError", "'k17'") == error_signature("KeyError", "'k903'")
    assert error_signature("ValueError", "bad row 12") == error_signature("ValueError", "bad row 9999")
    assert error_signature("OSError", "cannot open /tmp/a/1.csv") == error_signature("OSError", "cannot open /x/y.csv")


def test_different_classes_or_wordings_are_different_causes():
    assert error_signature("KeyError", "'k17'") != error_signature("ValueError", "'k17'")
    assert error_signature("ValueError", "bad row 12") != error_signature("ValueError", "bad column 12")


def test_the_signature_is_a_short_stable_hex_digest():
    signature = error_signature("KeyError", "'k17'")
    assert len(signature) <= 64 and int(signature, 16) >= 0
    assert signature == error_signature(" KeyError ", "'k1'")  # stable across calls and keys
