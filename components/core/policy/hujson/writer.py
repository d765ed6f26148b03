"""Canonical HuJSON writing: tabs, one member per line, trailing commas, top-level keys in
a fixed order, so that diffs between renderings stay small."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

#: Top-level keys come first in this order; other keys follow in given order.
CANONICAL_KEY_ORDER: tuple[str, ...] = (
    "groups",
    "tagOwners",
    "hosts",
    "postures",
    "autoApprovers",
    "grants",
    "acls",
    "ssh",
    "nodeAttrs",
    "tests",
    "sshTests",
)

# A list of scalars is written on one line when that line, counting a tab as
# _TAB_WIDTH columns, is at most _INLINE_WIDTH columns wide.
_INLINE_WIDTH = 100
_SURROGATE = re.compile("[\ud800-\udfff]")
_TAB_WIDTH = 4
_encode_string = json.encoder.encode_basestring


def dumps(
    data: Mapping[str, Any],
    *,
    comments: Mapping[str, Sequence[str]] | None = None,
    header: Sequence[str] = (),
    trailer: Sequence[str] = (),
) -> str:
    """Render a policy canonically so that diffs between renderings are small.

    Tab indentation, one member or element per line, a comma after each of
    them, top-level keys in `CANONICAL_KEY_ORDER` then the rest as given, and
    nested key order kept.  Lists of scalars go on one line when it fits in
    100 columns (tab = 4).  Comment lines must start with ``//`` or ``/*``;
    ``""`` entries become blank lines.  Output ends with a newline.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"a policy must be a mapping, not {type(data).__name__}")
    notes = {
        key: _clean_comments(lines, f"comments for {key!r}")
        for key, lines in (comments or {}).items()
    }
    unknown = [key for key in notes if key not in data]
    if unknown:
        raise ValueError(f"comments given for keys not in the policy: {unknown!r}")
    out = _clean_comments(header, "header")
    tail = _clean_comments(trailer, "trailer")
    keys = _ordered_keys(data)
    if not keys and not tail:
        out.append("{}")
        return "\n".join(out) + "\n"
    out.append("{")
    for index, key in enumerate(keys):
        if not isinstance(key, str):
            raise TypeError(f"policy keys must be strings, not {key!r}")
        if index:
            out.append("")
        out.extend("\t" + line if line else "" for line in notes.get(key, ()))
        _write(out, data[key], 1, _string(key) + ": ", ",")
    if tail:
        if keys:
            out.append("")
        out.extend("\t" + line if line else "" for line in tail)
    out.append("}")
    return "\n".join(out) + "\n"


def _ordered_keys(data: Mapping[str, Any]) -> list[str]:
    rank = {key: index for index, key in enumerate(CANONICAL_KEY_ORDER)}
    # sorted() is stable, so unknown keys keep their given order.
    return sorted(data, key=lambda key: rank.get(key, len(rank)))


def _clean_comments(lines: Sequence[str], what: str) -> list[str]:
    """Validate comment lines and normalise them the way `parse` returns them."""
    if isinstance(lines, str):
        raise TypeError(f"{what} must be a list of comment lines, not a string")
    result: list[str] = []
    for line in lines:
        if not isinstance(line, str):
            raise TypeError(f"{what}: comment lines must be strings, not {line!r}")
        line = line.lstrip(" \t")
        if not line.strip():
            if result and result[-1]:
                result.append("")
            continue
        if line.startswith("//"):
            if "\n" in line:
                raise ValueError(f"{what}: a // comment cannot span lines: {line!r}")
            result.append(line.rstrip(" \t\r"))
        elif line.startswith("/*"):
            if len(line) < 4 or not line.endswith("*/") or "*/" in line[2:-2]:
                raise ValueError(f"{what}: malformed /* */ comment: {line!r}")
            result.append(line)
        else:
            raise ValueError(f"{what}: {line!r} is not a comment (start it with // or /*)")
    while result and not result[-1]:
        result.pop()
    return result


def _write(out: list[str], value: Any, depth: int, prefix: str, suffix: str) -> None:
    """Append the lines of ``value`` indented ``depth`` tabs.

    ``prefix`` goes before the value on its first line (``"key": ``) and
    ``suffix`` after it on its last line (the comma).
    """
    pad = "\t" * depth
    kind = type(value)
    if kind is str:  # most values: before the Mapping check, an ABC check and slow
        out.append(f"{pad}{prefix}{_string(value)}{suffix}")
    elif kind is dict or (kind is not list and kind is not tuple and isinstance(value, Mapping)):
        if not value:
            out.append(f"{pad}{prefix}{{}}{suffix}")
            return
        out.append(f"{pad}{prefix}{{")
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"object keys must be strings, not {key!r}")
            _write(out, item, depth + 1, _string(key) + ": ", ",")
        out.append(f"{pad}}}{suffix}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append(f"{pad}{prefix}[]{suffix}")
            return
        if all(_is_scalar(item) for item in value):
            inline = "[" + ", ".join(_scalar(item) for item in value) + "]"
            width = _TAB_WIDTH * depth + len(prefix) + len(inline) + len(suffix)
            if width <= _INLINE_WIDTH:
                out.append(f"{pad}{prefix}{inline}{suffix}")
                return
        out.append(f"{pad}{prefix}[")
        for item in value:
            _write(out, item, depth + 1, "", ",")
        out.append(f"{pad}]{suffix}")
    else:
        out.append(f"{pad}{prefix}{_scalar(value)}{suffix}")


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, bool, int, float))


def _scalar(value: Any) -> str:
    if type(value) is str:
        return _string(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        # int.__repr__ so that IntEnum members are written as numbers.
        return int.__repr__(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be written as JSON")
        return float.__repr__(value)
    if isinstance(value, str):
        return _string(value)
    raise TypeError(f"cannot write a {type(value).__name__} to a policy file")


def _string(value: str) -> str:
    # What json.dumps(value, ensure_ascii=False) writes, without building an encoder per string.
    text: str = _encode_string(value)
    if value.isascii():
        return text
    # Lone surrogates are escaped so the output can always be encoded as UTF-8.
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def value_lines(value: Any, prefix: str = "", suffix: str = ",") -> list[str]:
    """The canonical lines of one nested value at depth 0 (a tab per nesting level below),
    ``prefix`` (``"key": ``) before it and ``suffix`` after it, without a final newline."""
    out: list[str] = []
    _write(out, value, 0, prefix, suffix)
    return out


def inline(value: Any) -> str:
    """``value`` on one line: ``{"a": [1, 2]}``."""
    if isinstance(value, Mapping):
        members = (f"{_string(key)}: {inline(item)}" for key, item in value.items())
        return "{" + ", ".join(members) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(inline(item) for item in value) + "]"
    return _scalar(value)


def key_text(key: str) -> str:
    """An object key as written: a JSON string."""
    return _string(key)


def ordered_keys(data: Mapping[str, Any]) -> list[str]:
    """``data``'s keys in the canonical top-level order."""
    return _ordered_keys(data)
