"""Untrusted plan text inside markdown: it may not open a fence, a comment or a table cell.

Every name in a plan (groups, members, stack keys, Helm values) comes from the change under
review, so a value holding a newline, backticks, `|` or `<!--` must read as text, never as
markup that hides what follows.
"""

import re

# What can open a code span, an HTML comment or tag, or a new table cell.
_SPECIAL = re.compile(r"([\\`<|])")
_BACKTICKS = re.compile(r"`+")


def one_line(text: str) -> str:
    """`text` on one line: line breaks show as `\\n`."""
    return text.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


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
