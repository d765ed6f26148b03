"""HuJSON reading: strict JSON plus comments and trailing commas, with the comments around
top-level members kept (see `PolicyDocument`)."""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

from .document import HujsonError, PolicyDocument

# Guards the recursive descent against stack exhaustion on hostile input.
_MAX_DEPTH = 200

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NUMBER_LIKE = re.compile(r"[-+0-9A-Za-z_.]+")
_WORD = re.compile(r"[A-Za-z0-9_$]+")
_STRING_RUN = re.compile(r'[^"\\\x00-\x1f]+')
_SIMPLE_STRING = re.compile(r'"([^"\\\x00-\x1f]*)"')
_SPACE = re.compile(r"[ \t\r\n]*")
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


def parse(text: str, source: str = "<policy>") -> PolicyDocument:
    """Parse a HuJSON policy whose top level must be an object.

    ``source`` names the file in error messages.  Raises `HujsonError`.
    """
    return _Parser(text, source).document()


def parse_data(text: str, source: str = "<policy>") -> dict[str, Any]:
    """The data of a HuJSON policy (its comments dropped). Raises `HujsonError`."""
    return parse(text, source).data


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
        # Most gaps are whitespace alone: skip it in one match, loop only around comments.
        space = _SPACE.match(text, self.pos)
        after_space = space.end() if space is not None else self.pos
        if not text.startswith("/", after_space):
            self.pos = after_space
            return []
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
        simple = _SIMPLE_STRING.match(text, start)
        if simple is not None:  # no escapes: the common case, in one match
            self.pos = simple.end()
            return simple.group(1)
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
