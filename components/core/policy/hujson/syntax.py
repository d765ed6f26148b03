"""Where each value of a HuJSON text is: the concrete-syntax layer of the format-preserving merge.

`scan` parses like `parse` (same errors) and also returns a `Span` tree: for the top-level
object and every value below it, the offsets of its first and one-past-last characters,
and for objects and arrays the spans of their members' values in order.  Comments and
formatting are not interpreted: a writer copies the text between spans as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .document import PolicyDocument
from .parser import _Parser

__all__ = ["Span", "scan"]


@dataclass
class Span:
    """One value: ``text[start:end]``; ``children`` are its elements' or members' values
    (for an object, in the order of its keys), empty for scalars."""

    start: int
    end: int
    value: Any
    children: list[Span] = field(default_factory=list)


def scan(text: str, source: str = "<policy>") -> tuple[PolicyDocument, Span]:
    """Parse ``text`` (see `parse`) and return the document and its top-level span."""
    parser = _SpanParser(text, source)
    document = parser.document()
    assert parser.root is not None
    return document, parser.root


class _SpanParser(_Parser):
    def __init__(self, text: str, source: str) -> None:
        super().__init__(text, source)
        self.open: list[list[Span]] = []
        self.root: Span | None = None

    def parse_value(self, depth: int) -> Any:
        self.skip_trivia()
        start = self.pos
        self.open.append([])
        value = super().parse_value(depth)
        children = self.open.pop()
        self.open[-1].append(Span(start, self.pos, value, children))
        return value

    def parse_object(self, depth: int, doc: PolicyDocument | None) -> dict[str, Any]:
        if doc is None:
            return super().parse_object(depth, doc)
        start = self.pos
        self.open.append([])
        value = super().parse_object(depth, doc)
        self.root = Span(start, self.pos, value, self.open.pop())
        return value
