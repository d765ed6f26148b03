"""Untrusted names as markdown text: inert, on one line, lookalikes and invisibles shown."""

import html as html_text
import re
import unicodedata

import cmarkgfm
from hypothesis import given
from hypothesis import strategies as st
from tailscale_cluster_access.offline.report.markdown import (
    cell,
    code,
    one_line,
    text,
    unescape,
)

MARKUP = "\\`<>|[]!*_~&#$"
names = st.lists(st.sampled_from(
    [*MARKUP, *"abc@.:/w -()\n\r", "www.", "://", "\u0430", "\u2060", "\u2028", "\u3164",
     "\U000e0041", "\u202e", "\u00ad", "\x85", "\ufeff"]), max_size=30).map("".join)


def escaped(written: str, index: int) -> bool:
    backslashes = len(written[:index]) - len(written[:index].rstrip("\\"))
    return backslashes % 2 == 1


def outside_code_spans(written: str) -> str:
    """`written` without its code spans (a backtick after an odd run of backslashes is
    escaped, after an even one it opens a span)."""
    kept: list[str] = []
    index = 0
    while index < len(written):
        if written[index] == "`" and not escaped(written, index):
            index = written.index("`", index + 1) + 1
            continue
        kept.append(written[index])
        index += 1
    return "".join(kept)


@given(names)
def test_text_escapes_every_markup_character_and_breaks_bare_links(value: str) -> None:
    written = text(value)
    plain = outside_code_spans(written)
    for index, char in enumerate(plain):
        if char in MARKUP and char != "\\":
            assert escaped(plain, index), (value, written)
    assert "://" not in plain and not re.search(r"(?i)www\.", plain)
    assert unescape(written) == one_line(value)


# What GitHub renders (cmark-gfm with its extensions): the verdict on what a reviewer sees.
TAG = re.compile(r"</?([a-z]+)[^>]*>")


def github_html(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(markdown)


@given(names)
def test_github_renders_text_as_plain_text_and_code_spans(value: str) -> None:
    # As the reports use it: inside a line (after a bullet, a label or a cell's start).
    html = github_html(f"x {text(value)}")
    assert {tag for tag in TAG.findall(html)} <= {"p", "code"}, (value, html)
    # What it shows is the name itself, character for character (entities not decoded).
    shown = html_text.unescape(TAG.sub("", html))
    assert shown.split() == ["x", *one_line(value).split()], (value, html)


@given(names)
def test_github_renders_a_cell_as_one_cell(value: str) -> None:
    html = github_html(f"| a | b |\n|---|---|\n| {cell(value)} | x |\n")
    assert html.count("<td>") == 2, (value, html)
    assert {tag for tag in TAG.findall(html)} <= {"table", "thead", "tbody", "tr", "th", "td",
                                                  "code"}, (value, html)


def test_an_address_is_a_code_span_because_no_escape_stops_github_linking_it() -> None:
    assert text("mail alice@example.com now") == "mail `alice@example.com` now"
    assert "href" not in github_html(text("group:ml@example.com, mailto:a@b.example"))
    assert unescape(text("a_b alice@example.com")) == "a_b alice@example.com"


@given(names)
def test_text_and_code_are_one_line_with_nothing_invisible(value: str) -> None:
    for written in (text(value), code(value)):
        assert not any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")
                       or char in "\u3164" for char in written), written


def test_lookalikes_and_invisibles_are_named() -> None:
    assert text("\u0430lice@example.com") == "`\u0430lice@example.com` (non-ASCII: U+0430)"
    assert text("alice\u2060@example.com") == r"alice{U+2060}@example.com"
