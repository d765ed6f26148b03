"""Untrusted names as markdown text: inert, on one line, lookalikes and invisibles shown."""

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st
from tailscale_cluster_access.offline.report.markdown import code, one_line, text, unescape

MARKUP = "\\`<>|[]!*_~&#$"
names = st.lists(st.sampled_from(
    [*MARKUP, *"abc@.:/w -()\n\r", "www.", "://", "\u0430", "\u2060", "\u2028", "\u3164",
     "\U000e0041", "\u202e", "\u00ad", "\x85", "\ufeff"]), max_size=30).map("".join)


def escaped(written: str, index: int) -> bool:
    backslashes = len(written[:index]) - len(written[:index].rstrip("\\"))
    return backslashes % 2 == 1


@given(names)
def test_text_escapes_every_markup_character_and_breaks_bare_links(value: str) -> None:
    written = text(value)
    for index, char in enumerate(written):
        if char in MARKUP and char != "\\":
            assert escaped(written, index), (value, written)
    assert "://" not in written and not re.search(r"(?i)\bwww\.", written)
    assert unescape(written) == one_line(value)


@given(names)
def test_text_and_code_are_one_line_with_nothing_invisible(value: str) -> None:
    for written in (text(value), code(value)):
        assert not any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")
                       or char in "\u3164" for char in written), written


def test_lookalikes_and_invisibles_are_named() -> None:
    assert text("\u0430lice@example.com") == "\u0430lice@example.com (non-ASCII: U+0430)"
    assert text("alice\u2060@example.com") == r"alice{U+2060}@example.com"
