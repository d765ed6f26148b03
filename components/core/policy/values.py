"""Comparing and showing policy values: shared by the merge and the drift check."""

import json
from typing import Any

_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical(value: Any) -> str:
    """A key equal for deeply equal JSON values, whatever their dict key order."""
    return _CANONICAL.encode(value)


def same_value(left: Any, right: Any) -> bool:
    if isinstance(left, list) and isinstance(right, list):
        # Owner, member and posture lists mean the same thing in any order.
        return {canonical(x) for x in left} == {canonical(x) for x in right}
    return canonical(left) == canonical(right)


def shown(value: Any, limit: int) -> str:
    """`value` as JSON, cut to `limit` characters."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def key_path(parent: str, key: str) -> str:
    return f"{parent}[{json.dumps(key, ensure_ascii=False)}]"
