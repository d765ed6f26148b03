"""Comparing and showing policy values: shared by the merge and the drift check."""

import json
from json import encoder
from typing import Any

_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
# A plan asks for tens of thousands of these keys, and `JSONEncoder.encode` builds its C
# encoder anew on every call: build it once. No cycle check (policy values are JSON trees).
_make_encoder = getattr(encoder, "c_make_encoder", None)  # None without the C accelerator
_C_ENCODER = (_make_encoder(None, _CANONICAL.default, encoder.encode_basestring, None, ":", ",",
                            True, False, True)
              if _make_encoder is not None else None)


def canonical(value: Any) -> str:
    """A key equal for deeply equal JSON values, whatever their dict key order."""
    if _C_ENCODER is None or isinstance(value, str):
        return _CANONICAL.encode(value)
    return "".join(_C_ENCODER(value, 0))


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
