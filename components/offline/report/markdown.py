"""Untrusted plan text inside markdown: it may not open a fence, a comment or a table cell.

Every name in a plan (groups, members, stack keys, Helm values) comes from the change under
review, so a value holding a newline, backticks, `|` or `<!--` must read as text, never as
markup that hides what follows.
"""

import re

# What can open a code span, an HTML comment or tag, or a new table cell.
_SPECIAL = re.compile(r"([\\`<|])")
_BACKTICKS = re.compile(r"`+")


# Control characters, bidirectional overrides and isolates (Trojan Source), zero-width, BOM.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def one_line(text: str) -> str:
    """`text` on one line (line breaks show as `\\n`), without invisible characters, and
    `<!--` broken up as the pull-request comment does."""
    text = text.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")
    return _INVISIBLE.sub("", text).replace("<!--", "< !--")


def text(value: object) -> str:
    """Plain markdown text: one line, markup characters backslash-escaped."""
    return _SPECIAL.sub(r"\\\1", one_line(str(value)))


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
