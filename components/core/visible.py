"""Text from the input shown as it is: a lookalike of a name never reads as the name.

Names in errors and in the plan files come from the change under review; a Cyrillic a (U+0430) or an
invisible character next to `alice@example.com` must show.
"""

import unicodedata

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
