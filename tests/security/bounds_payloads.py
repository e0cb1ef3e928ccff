"""Hostile run configs shared by the ``test_bounds_*`` tests: the YAML alias bomb and a harmless use of anchors."""

from __future__ import annotations

import string

QUOTED_X = '"x"'


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """Nested anchors under ``execution: {in_process: ...}``: a few hundred bytes, ``width ** levels`` values."""
    names = string.ascii_lowercase
    lines = [f"a: &a [{', '.join([QUOTED_X] * width)}]"]
    for level in range(1, levels):
        lines.append(f"{names[level]}: &{names[level]} [{', '.join(['*' + names[level - 1]] * width)}]")
    return "execution:\n  in_process:\n" + "".join(f"    {line}\n" for line in lines)


# Sections shared with anchors the ordinary way: must keep loading.
FEW_ANCHORS = """\
ops:
  first: &config
    config: {n: 3, words: [a, b]}
  second: *config
  third: *config
execution:
  in_process: {}
"""
