"""HuJSON reading and canonical writing for Tailscale tailnet policy files.

HuJSON is JSON plus ``//`` and ``/* */`` comments and trailing commas.  The
parser is strict everywhere else (duplicate keys, NaN, leading zeros and bad
escapes are errors) because Tailscale rejects such files, and it is better to
fail at ``pulumi preview`` than at the Tailscale API.

Comments are kept only around the top-level members (see `PolicyDocument`);
comments inside nested values are dropped.  In a comment list, ``""`` stands
for a blank line that separated two comments, so groups of comments such as
the commented-out sections of Tailscale's default policy keep their shape.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

__all__ = [
    "CANONICAL_KEY_ORDER",
    "HujsonError",
    "PolicyDocument",
    "dumps",
    "parse",
]

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
_TAB_WIDTH = 4

# Guards the recursive descent against stack exhaustion on hostile input.
_MAX_DEPTH = 200

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NUMBER_LIKE = re.compile(r"[-+0-9A-Za-z_.]+")
_WORD = re.compile(r"[A-Za-z0-9_$]+")
_STRING_RUN = re.compile(r'[^"\\\x00-\x1f]+')
_SURROGATE = re.compile("[\ud800-\udfff]")
_HEX = frozenset("0123456789abcdefABCDEF")
_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}


class HujsonError(ValueError):
    """A policy file that is not valid HuJSON, with a 1-based position."""

    def __init__(self, reason: str, source: str, line: int, column: int) -> None:
        # All four go to args so that the error survives pickling.
        super().__init__(reason, source, line, column)
        self.reason = reason
        self.source = source
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}: {self.reason}"


@dataclass
class PolicyDocument:
    """A parsed policy file.

    ``comments`` maps a top-level key to the comments standing before it
    (including any between the key and its value); keys without comments are
    absent.  ``header`` holds the comments before the opening ``{`` and
    ``trailer`` those after the last member; comments after the closing ``}``
    are appended to ``trailer`` (so `dumps` moves them inside the object).
    A comment on the same line after a member belongs to the *next* key.
    """

    data: dict[str, Any]
    comments: dict[str, list[str]] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)
    trailer: list[str] = field(default_factory=list)

    def dumps(self, data: Mapping[str, Any] | None = None) -> str:
        """Render this document (or `data`, e.g. a merge of it) canonically, with this
        document's comments."""
        return dumps(self.data if data is None else data, comments=self.comments,
                     header=self.header, trailer=self.trailer)


def parse(text: str, source: str = "<policy>") -> PolicyDocument:
    """Parse a HuJSON policy whose top level must be an object.

    ``source`` names the file in error messages.  Raises `HujsonError`.
    """
    return _Parser(text, source).document()


def _join_comments(first: list[str], second: list[str]) -> list[str]:
    if first and second:
        return [*first, "", *second]
    return first or second


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        # A UTF-8 BOM is what some editors put at the start of a saved file.
        self.bom = text.startswith("\ufeff")
        self.pos = 1 if self.bom else 0

    # -- errors ------------------------------------------------------------

    def location(self, pos: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, pos) + 1
        column = pos - self.text.rfind("\n", 0, pos)
        if line == 1 and self.bom and pos > 0:
            column -= 1
        return line, column

    def fail(self, reason: str, pos: int | None = None) -> NoReturn:
        line, column = self.location(self.pos if pos is None else pos)
        raise HujsonError(reason, self.source, line, column)

    # -- whitespace and comments ----------------------------------------------

    def skip_trivia(self) -> list[str]:
        """Skip whitespace and comments; return the comments seen."""
        text = self.text
        end_of_text = len(text)
        found: list[str] = []
        newlines = 0
        while self.pos < end_of_text:
            ch = text[self.pos]
            if ch == "\n":
                newlines += 1
                self.pos += 1
            elif ch in " \t\r":
                self.pos += 1
            elif ch == "/":
                start = self.pos
                follower = text[start + 1 : start + 2]
                if follower == "/":
                    end = text.find("\n", start)
                    if end < 0:
                        end = end_of_text
                    comment = text[start:end].rstrip(" \t\r")
                    self.pos = end
                elif follower == "*":
                    # Searching from start+2 keeps "/*/" from closing itself.
                    end = text.find("*/", start + 2)
                    if end < 0:
                        self.fail("unterminated /* comment", start)
                    self.pos = end + 2
                    comment = text[start : self.pos]
                else:
                    self.fail("unexpected '/' (comments start with // or /*)", start)
                if found and newlines >= 2:
                    found.append("")
                found.append(comment)
                newlines = 0
            else:
                break
        return found

    # -- document ----------------------------------------------------------------

    def document(self) -> PolicyDocument:
        doc = PolicyDocument(data={})
        doc.header = self.skip_trivia()
        if self.pos >= len(self.text):
            self.fail("the policy is empty; expected an object starting with '{'")
        if self.text[self.pos] != "{":
            self.fail("the top level of a policy must be an object starting with '{'")
        doc.data = self.parse_object(1, doc)
        after = self.skip_trivia()
        if self.pos < len(self.text):
            self.fail("trailing garbage after value")
        doc.trailer = _join_comments(doc.trailer, after)
        return doc

    # -- values --------------------------------------------------------------------

    def parse_value(self, depth: int) -> Any:
        self.skip_trivia()
        text = self.text
        if self.pos >= len(text):
            self.fail("unexpected end of input, expected a value")
        ch = text[self.pos]
        if ch == "{":
            return self.parse_object(depth + 1, None)
        if ch == "[":
            return self.parse_array(depth + 1)
        if ch == '"':
            return self.parse_string()
        if ch == "-" or "0" <= ch <= "9":
            return self.parse_number()
        word = _WORD.match(text, self.pos)
        if word is not None:
            literal = word.group()
            if literal == "true":
                self.pos = word.end()
                return True
            if literal == "false":
                self.pos = word.end()
                return False
            if literal == "null":
                self.pos = word.end()
                return None
            if literal in ("NaN", "Infinity"):
                self.fail(f"{literal} is not allowed in JSON")
            self.fail(f"unexpected {literal!r} (strings must be in double quotes)")
        if ch == "'":
            self.fail("strings must be in double quotes, not single quotes")
        self.fail(f"unexpected character {ch!r}, expected a value")

    def check_depth(self, depth: int) -> None:
        if depth > _MAX_DEPTH:
            self.fail(f"values are nested more than {_MAX_DEPTH} levels deep")

    def parse_object(self, depth: int, doc: PolicyDocument | None) -> dict[str, Any]:
        """Parse an object; with ``doc``, also record its comments (top level)."""
        self.check_depth(depth)
        text = self.text
        open_pos = self.pos
        self.pos += 1
        result: dict[str, Any] = {}
        key_positions: dict[str, int] = {}
        carried: list[str] = []
        while True:
            pending = carried + self.skip_trivia()
            if self.pos >= len(text):
                self.fail("unterminated object (missing '}')", open_pos)
            ch = text[self.pos]
            if ch == "}":
                self.pos += 1
                if doc is not None:
                    doc.trailer = pending
                return result
            if ch != '"':
                if ch == ",":
                    self.fail("unexpected ',' (expected a key or '}')")
                self.fail("object keys must be strings in double quotes")
            key_pos = self.pos
            key = self.parse_string()
            if key in key_positions:
                first_line = self.location(key_positions[key])[0]
                line = self.location(key_pos)[0]
                self.fail(
                    f"duplicate key {json.dumps(key, ensure_ascii=False)}"
                    f" (first on line {first_line}, again on line {line})",
                    key_pos,
                )
            key_positions[key] = key_pos
            pending += self.skip_trivia()
            if self.pos >= len(text) or text[self.pos] != ":":
                self.fail("expected ':' after object key")
            self.pos += 1
            # Collected here rather than inside parse_value so they are kept.
            pending += self.skip_trivia()
            result[key] = self.parse_value(depth)
            if doc is not None and pending:
                doc.comments[key] = pending
            carried = self.skip_trivia()
            if self.pos >= len(text):
                self.fail("unterminated object (missing '}')", open_pos)
            ch = text[self.pos]
            if ch == ",":
                self.pos += 1
            elif ch != "}":
                self.fail("expected ',' or '}' after object member")

    def parse_array(self, depth: int) -> list[Any]:
        self.check_depth(depth)
        text = self.text
        open_pos = self.pos
        self.pos += 1
        result: list[Any] = []
        while True:
            self.skip_trivia()
            if self.pos >= len(text):
                self.fail("unterminated array (missing ']')", open_pos)
            ch = text[self.pos]
            if ch == "]":
                self.pos += 1
                return result
            if ch == ",":
                self.fail("unexpected ',' (expected a value or ']')")
            result.append(self.parse_value(depth))
            self.skip_trivia()
            if self.pos >= len(text):
                self.fail("unterminated array (missing ']')", open_pos)
            ch = text[self.pos]
            if ch == ",":
                self.pos += 1
            elif ch != "]":
                self.fail("expected ',' or ']' after array element")

    def parse_string(self) -> str:
        text = self.text
        start = self.pos
        self.pos += 1
        parts: list[str] = []
        while True:
            run = _STRING_RUN.match(text, self.pos)
            if run is not None:
                parts.append(run.group())
                self.pos = run.end()
            if self.pos >= len(text):
                self.fail("unterminated string", start)
            ch = text[self.pos]
            if ch == '"':
                self.pos += 1
                return "".join(parts)
            if ch == "\\":
                escape = text[self.pos + 1 : self.pos + 2]
                if escape in _ESCAPES:
                    parts.append(_ESCAPES[escape])
                    self.pos += 2
                elif escape == "u":
                    parts.append(self.parse_unicode_escape())
                elif escape == "":
                    self.fail("unterminated string", start)
                else:
                    self.fail(f"invalid escape '\\{escape}' in string")
            elif ch in "\r\n":
                # Almost always a forgotten closing quote, so point at the start.
                self.fail(
                    "unterminated string (a string must end on its line;"
                    " write a line break as \\n)",
                    start,
                )
            else:
                self.fail(
                    f"control character U+{ord(ch):04X} in string must be written as an escape"
                )

    def hex4(self, at: int) -> int:
        digits = self.text[at + 2 : at + 6]
        if len(digits) != 4 or not _HEX.issuperset(digits):
            self.fail("invalid \\u escape (expected four hex digits)", at)
        return int(digits, 16)

    def parse_unicode_escape(self) -> str:
        code = self.hex4(self.pos)
        self.pos += 6
        # Like the json module: a high+low surrogate escape pair is one character,
        # a lone surrogate escape stays a lone surrogate.
        if 0xD800 <= code <= 0xDBFF and self.text.startswith("\\u", self.pos):
            low = self.hex4(self.pos)
            if 0xDC00 <= low <= 0xDFFF:
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                self.pos += 6
        return chr(code)

    def parse_number(self) -> int | float:
        text = self.text
        start = self.pos
        token_match = _NUMBER_LIKE.match(text, start)
        token = token_match.group() if token_match is not None else text[start]
        number = _NUMBER.match(text, start)
        if number is None or number.group() != token:
            if token in ("-Infinity", "-NaN"):
                self.fail(f"{token} is not allowed in JSON")
            if re.fullmatch(r"-?0[0-9]+.*", token):
                self.fail("numbers must not have leading zeros")
            self.fail(f"invalid number {token!r}")
        literal = number.group()
        self.pos = number.end()
        if "." in literal or "e" in literal or "E" in literal:
            value = float(literal)
            if math.isinf(value):
                self.fail(f"number {literal} is too large", start)
            return value
        try:
            return int(literal)
        except ValueError:  # Python's limit on int conversion length
            self.fail("number has too many digits", start)


# -- writing -------------------------------------------------------------------


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
    if isinstance(value, Mapping):
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
    # Lone surrogates are escaped so the output can always be encoded as UTF-8.
    return _SURROGATE.sub(
        lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False)
    )
