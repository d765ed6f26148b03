"""A parsed policy file and its errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .writer import dumps


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

