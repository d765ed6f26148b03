"""Untrusted plan text inside markdown: it may not open a fence, a comment or a table cell.

Every name in a plan (groups, members, stack keys, Helm values) comes from the change under
review, so a value holding a newline, backticks, `|` or `<!--` must read as text, never as
markup that hides what follows.
"""

import re

from ...core.visible import visible

# What can open or close inline markup in CommonMark and GitHub's dialect: code spans, HTML
# (tags, comments, autolinks), links and images, emphasis, strikethrough, entities, math,
# table cells. `-`, `:`, `.`, `(` and `)` stay as they are: mid-line they start nothing.
_SPECIAL = re.compile(r"([\\`<>|\[\]!*_~&#$])")
_BACKTICKS = re.compile(r"`+")
# GitHub links bare URLs and `www.` names (extended autolinks); an escape stops that.
_BARE_LINK = re.compile(r"(?i)(?<=:)//|(?<=www)\.")

def one_line(text: str) -> str:
    """`text` on one line (line breaks show as `\\n`), invisible and lookalike characters
    shown as such (`visible`), and `<!--` broken up as the pull-request comment does."""
    text = text.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")
    return visible(text).replace("<!--", "< !--")


# What GitHub links as an e-mail address. No escape stops that (cmark-gfm finds addresses in
# the text after escapes are resolved); a code span does.
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _escaped(line: str) -> str:
    return _BARE_LINK.sub(r"\\\g<0>", _SPECIAL.sub(r"\\\1", line))


def text(value: object) -> str:
    """Plain markdown text: one line, every character that could start markup
    backslash-escaped, bare links broken, e-mail addresses in code spans."""
    line = one_line(str(value))
    parts: list[str] = []
    end = 0
    for address in _ADDRESS.finditer(line):
        parts += [_escaped(line[end:address.start()]), f"`{address[0]}`"]
        end = address.end()
    return "".join(parts) + _escaped(line[end:])


_ESCAPED = re.compile(r"\\([\\`<>|\[\]!*_~&#$/.])|`([^`]*)`")


def unescape(written: str) -> str:
    """The one-line text `text` escaped (read back from a plan's markdown)."""
    return _ESCAPED.sub(lambda found: found[1] if found[1] is not None else found[2], written)


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
