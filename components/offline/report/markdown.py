"""Untrusted plan text inside markdown: it may not open a fence, a comment or a table cell.

Every name in a plan (groups, members, stack keys, Helm values) comes from the change under
review, so a value holding a newline, backticks, `|` or `<!--` must read as text, never as
markup that hides what follows.
"""

import re
import unicodedata

# What can open or close inline markup in CommonMark and GitHub's dialect: code spans, HTML
# (tags, comments, autolinks), links and images, emphasis, strikethrough, entities, math,
# table cells. `-`, `:`, `.`, `(` and `)` stay as they are: mid-line they start nothing.
_SPECIAL = re.compile(r"([\\`<>|\[\]!*_~&#$])")
_BACKTICKS = re.compile(r"`+")
# GitHub links bare URLs and `www.` names (extended autolinks); an escape stops that.
_BARE_LINK = re.compile(r"(?i)(?<=:)//|(?<=\bwww)\.")

# Characters that print as nothing or as blank: control and format characters (bidi
# overrides, zero-width, soft hyphen, tag characters), line and paragraph separators,
# private-use and unassigned code points, spaces other than U+0020, and the Hangul and
# Braille blanks (letters to Unicode, blank on screen).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp", "Zs"})


def _invisible(char: str) -> bool:
    return char != " " and (char in _BLANK_LETTERS
                            or unicodedata.category(char) in _INVISIBLE_CATEGORIES)


def visible(text: str) -> str:
    """`text` with every invisible character written as `{U+XXXX}`, and the letters, digits
    and marks outside ASCII named after it (alice with a Cyrillic a: `alice (non-ASCII:
    U+0430)`): a lookalike of a name never reads as the name."""
    if text.isascii() and text.isprintable():
        return text
    shown: list[str] = []
    lookalikes: list[str] = []
    for char in text:
        if char == "\n" or (char.isascii() and char.isprintable()):
            shown.append(char)
        elif _invisible(char):
            shown.append(f"{{U+{ord(char):04X}}}")
        else:
            shown.append(char)
            if unicodedata.category(char)[0] in "LMN":
                lookalikes.append(f"U+{ord(char):04X}")
    result = "".join(shown)
    if lookalikes:
        result += f" (non-ASCII: {', '.join(dict.fromkeys(lookalikes))})"
    return result


def one_line(text: str) -> str:
    """`text` on one line (line breaks show as `\\n`), invisible and lookalike characters
    shown as such (`visible`), and `<!--` broken up as the pull-request comment does."""
    text = text.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")
    return visible(text).replace("<!--", "< !--")


def text(value: object) -> str:
    """Plain markdown text: one line, every character that could start markup
    backslash-escaped, bare links broken."""
    return _BARE_LINK.sub(r"\\\g<0>", _SPECIAL.sub(r"\\\1", one_line(str(value))))


_ESCAPED = re.compile(r"\\([\\`<>|\[\]!*_~&#$/.])")


def unescape(written: str) -> str:
    """The one-line text `text` escaped (read back from a plan's markdown)."""
    return _ESCAPED.sub(r"\1", written)


def cell(value: object) -> str:
    """A table cell: like `text` (which already escapes `|`)."""
    return text(value)


def code(value: object, *, in_table: bool = False) -> str:
    """A code span whose fence is longer than any backtick run inside; one line."""
    body = one_line(str(value))
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * (longest + 1)
    if in_table:
        body = body.replace("|", "\\|")
    if body.startswith("`") or body.endswith("`") or longest:
        body = f" {body} "
    return f"{fence}{body}{fence}"
