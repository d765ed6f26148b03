"""Indented JSON text of plan data, fast: the bytes of `json.dumps(value, indent=2,
ensure_ascii=False)`.

With `indent` the standard library leaves its C encoder for a pure-Python one that makes a
generator per container; a plan's `resources.json` and `access.json` hold tens of thousands
of values. Here containers are walked once and strings are escaped by the C escaper. Anything
else (non-string keys, other types, a value containing itself) goes to `json.dumps`, so the
result and the errors stay the standard library's.
"""

import json
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

_CONSTANTS = {True: "true", False: "false"}
_INFINITY = float("inf")


class _Unusual(Exception):
    """A value this writer leaves to `json.dumps`."""


def dumps_indented(value: Any) -> str:
    """`json.dumps(value, indent=2, ensure_ascii=False)`."""
    chunks: list[str] = []
    try:
        _write(value, "\n", chunks)
    except (_Unusual, RecursionError):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return "".join(chunks)


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


def _write(value: Any, newline: str, chunks: list[str]) -> None:
    kind = type(value)
    if kind is str:
        chunks.append(encode_basestring(value))
    elif value is None:
        chunks.append("null")
    elif kind is bool:
        chunks.append(_CONSTANTS[value])
    elif kind is int:
        chunks.append(int.__repr__(value))
    elif kind is float:
        chunks.append(_float(value))
    elif kind is dict:
        if not value:
            chunks.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            if type(key) is not str:
                raise _Unusual
            chunks.append(separator)
            chunks.append(encode_basestring(key))
            chunks.append(": ")
            _write(item, inner, chunks)
            separator = "," + inner
        chunks.append(newline + "}")
    elif kind is list or kind is tuple:
        if not value:
            chunks.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            chunks.append(separator)
            _write(item, inner, chunks)
            separator = "," + inner
        chunks.append(newline + "]")
    else:
        raise _Unusual
