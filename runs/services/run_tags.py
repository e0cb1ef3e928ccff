"""Run tags given at launch: the one rule for what a tag key and value may be.

Tags are the run's own ``key: value`` strings (the job's tags are overlaid at execution); they
are shown as ``key=value`` chips and passed to every op, so a key must be readable text on one
line. The launchpad asks this rule through ``validateRunConfig(tags:)`` as the user types, and
``launchRun`` applies it before anything is written. Duplicate keys cannot reach it (a JSON
object holds each key once); the launchpad refuses them itself.
"""

from __future__ import annotations

from typing import Any

from runs.errors import InvalidRunTagsError

MAX_TAG_KEY_LENGTH = 255
MAX_TAG_VALUE_LENGTH = 4096


def _key_problem(key: str) -> str | None:
    if not key.strip():
        return "tag key is empty: give every tag a key (or remove the row)"
    if len(key) > MAX_TAG_KEY_LENGTH:
        return f"tag key is {len(key)} characters long, more than the limit of {MAX_TAG_KEY_LENGTH}"
    if key != key.strip():
        return f"tag key {key!r} starts or ends with spaces; remove them"
    if any(not character.isprintable() for character in key):
        return f"tag key {key!r} holds a control character (a newline or tab); keys are one line of text"
    return None


def _value_problem(key: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return f"tag {key!r}: the value must be a string, got {type(value).__name__} {value!r}"
    if len(value) > MAX_TAG_VALUE_LENGTH:
        return f"tag {key!r}: the value is {len(value)} characters long, more than the limit of {MAX_TAG_VALUE_LENGTH}"
    return None


def check_run_tags(tags: dict[str, Any]) -> dict[str, str]:
    """``tags`` when every key and value is valid; raises ``InvalidRunTagsError`` naming each bad tag."""
    problems = []
    for key, value in tags.items():
        problem = _key_problem(key) or _value_problem(key, value)
        if problem:
            problems.append((key, problem))
    if problems:
        raise InvalidRunTagsError(problems)
    return tags
