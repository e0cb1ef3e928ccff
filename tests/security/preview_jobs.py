"""Jobs with outputs too big to load for a preview: a 50 MB string and a list of a million items."""

from __future__ import annotations

from dagviz import job, op

BIG_TEXT_CHARS = 50_000_000
MANY_ITEMS = 1_000_000


@op
def big_text() -> str:
    return "x" * BIG_TEXT_CHARS


@op
def many_items() -> list:
    return list(range(MANY_ITEMS))


@op
def sizes(text: str, items: list) -> dict:
    return {"text": len(text), "items": len(items)}


@job(description="Two big outputs and a small one computed from both.")
def big_outputs():
    sizes(big_text(), many_items())
