"""What the ``users`` and ``tokens`` commands share: bad input as a one-line CommandError (exit 2), plain tables."""

from __future__ import annotations

from django.core.management.base import CommandError

EXIT_BAD_INPUT = 2


def bad_input(message: str) -> CommandError:
    """Django prints a CommandError as one line (no traceback) and exits with its return code."""
    return CommandError(" ".join(message.split()), returncode=EXIT_BAD_INPUT)


def format_table(rows: list[tuple[str, ...]]) -> str:
    """Left-aligned columns, the first row being the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)
