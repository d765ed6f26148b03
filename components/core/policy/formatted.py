"""The format-preserving merge: the base policy file's own text with the stack's entries
spliced in.

`merge_policies` decides *what* the policy holds; this module only decides how it is
written.  The base file's text (every comment, inline and nested, its order, its
formatting) is copied byte for byte; the members and elements the merge added are
inserted at the end of the object or list they belong to (new top-level sections before
the closing brace), rendered with the canonical writer at the surrounding indentation,
after a ``// <name>: added by tailscale-cluster-access`` comment per run of entries.
The only other change to the base's bytes is a comma after a last entry that had none.

When that is not possible (the merge changed a base entry, which it never should) or the
spliced text does not parse back to exactly the merged data, the policy is rendered
canonically instead and `Rendered.notes` says why.  A base that is empty or ``{}`` is
always rendered canonically.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from . import hujson
from .hujson.syntax import Span, scan
from .hujson.writer import inline, key_text, ordered_keys, value_lines
from .sections import section_key
from .values import canonical, key_path, shown

__all__ = ["ADDED_BY", "Rendered", "render_merged"]

ADDED_BY: Final = "added by tailscale-cluster-access"
_INDENT: Final = re.compile(r"[ \t]*")
_SHOW_MAX: Final = 80


@dataclass(frozen=True)
class Rendered:
    text: str
    """The policy file to write (HuJSON)."""
    notes: list[str] = field(default_factory=list)
    """Why the base file's formatting or comments could not be kept (empty normally)."""


class _Changed(Exception):
    """The merge changed a base entry: splicing cannot express that."""


def render_merged(
    base_text: str,
    merged: Mapping[str, Any],
    fragments: Sequence[tuple[str, Mapping[str, Any]]],
    source: str = "base policy",
) -> Rendered:
    """Render ``merged`` (``merge_policies`` of the base in ``base_text`` and ``fragments``)
    as the base text with the added entries spliced in.  Raises `HujsonError` for a base
    that does not parse."""
    if not base_text.strip():
        return Rendered(hujson.dumps(merged))
    document, root = scan(base_text, source)
    if not document.data:
        return Rendered(document.dumps(merged))
    splicer = _Splicer(base_text, root, fragments)
    try:
        splicer.container(root, merged, ())
    except _Changed as reason:
        return _canonical(document, merged, str(reason))
    text = splicer.apply()
    try:
        written = hujson.parse_data(text, source)
    except hujson.HujsonError as error:  # pragma: no cover - a bug in the splicer
        return _canonical(document, merged, f"the spliced policy does not parse ({error})")
    # Plain equality is enough: the base's own values were compared canonically while
    # splicing (so true never stands for 1), and the inserted text is the writer's.
    if written != dict(merged):  # pragma: no cover - ditto
        return _canonical(document, merged, "the spliced policy does not hold the merged data")
    return Rendered(text)


def _canonical(document: hujson.PolicyDocument, merged: Mapping[str, Any], reason: str
               ) -> Rendered:
    return Rendered(document.dumps(merged), [
        f"the policy is written canonically, not as the base file's text ({reason}): "
        "comments inside the base's sections and its own formatting are not kept"])


class _Splicer:
    def __init__(self, text: str, root: Span, fragments: Sequence[tuple[str, Mapping[str, Any]]]
                 ) -> None:
        self.text = text
        self.fragments = fragments
        self.newline = "\r\n" if "\r\n" in text else "\n"
        self.unit = self.indent_at(root.children[0].start) if root.children else ""
        if not self.unit:
            self.unit = "\t"
        self.edits: list[tuple[int, int, str]] = []  # (position, order, text)
        self.index: dict[tuple[str, ...], dict[str, list[str]]] = {}

    def apply(self) -> str:
        pieces: list[str] = []
        last = 0
        for position, _, insert in sorted(self.edits):
            pieces += [self.text[last:position], insert]
            last = position
        pieces.append(self.text[last:])
        return "".join(pieces)

    # -- what was added ---------------------------------------------------------------

    def container(self, span: Span, merged: Any, path: tuple[str, ...]) -> None:
        base = span.value
        where = _where(path)
        if isinstance(base, dict) and isinstance(merged, Mapping):
            keys = list(base)
            merged_keys = list(merged)
            if merged_keys[: len(keys)] != keys:
                raise _Changed(f"{where}: the merge removed or reordered base keys")
            for key, child in zip(keys, span.children, strict=True):
                if _differs(child.value, merged[key]):
                    self.container(child, merged[key], (*path, key))
            added = merged_keys[len(keys):]
            if not path:
                added = ordered_keys({key: None for key in added})
            if added:
                self.insert(span, path, [(key, merged[key]) for key in added])
        elif isinstance(base, list) and isinstance(merged, list):
            prefix = merged[: len(base)]
            if len(prefix) < len(base) or _differs(base, prefix):
                raise _Changed(f"{where}: the merge changed or removed base entries")
            self.insert(span, path, [(None, item) for item in merged[len(base):]])
        else:
            raise _Changed(f"{where}: the merge changed {shown(base, _SHOW_MAX)} to "
                           f"{shown(merged, _SHOW_MAX)}")

    def names(self, path: tuple[str, ...], key: str | None, value: Any) -> str:
        """The fragments that hold this added entry, for its comment."""
        if len(self.fragments) == 1:
            # `merged` merges the base with this one fragment: every added entry is its.
            return self.fragments[0][0] or "generated"
        index = self.index.get(path)
        if index is None:
            index = self.index[path] = self.entries_at(path)
        if key is None:
            found = index.get(canonical(value), [])
        else:
            found = index.get(key.lower() if not path else key, [])
        return ", ".join(sorted(set(found))) or "generated"

    def entries_at(self, path: tuple[str, ...]) -> dict[str, list[str]]:
        """Which fragments hold each entry of the object or list at ``path``: by key (top-level
        keys in lower case, as Tailscale matches them) or by the canonical form of an element."""
        index: dict[str, list[str]] = {}
        for name, fragment in self.fragments:
            node: Any = fragment
            for depth, step in enumerate(path):
                if not isinstance(node, Mapping):
                    node = None
                    break
                step_key = section_key(node, step) if depth == 0 else step
                node = node.get(step_key) if step_key is not None else None
            if isinstance(node, Mapping):
                for entry in node:
                    index.setdefault(entry.lower() if not path else entry, []).append(name)
            elif isinstance(node, list):
                for item in node:
                    index.setdefault(canonical(item), []).append(name)
        return index

    # -- writing ------------------------------------------------------------------------

    def indent_at(self, position: int) -> str:
        line_start = self.text.rfind("\n", 0, position) + 1
        match = _INDENT.match(self.text, line_start)
        return match.group() if match is not None else ""

    def comma_after(self, position: int, close: int) -> bool:
        """Whether a comma stands (outside comments) between ``position`` and ``close``."""
        text = self.text
        while position < close:
            if text.startswith("//", position):
                position = text.find("\n", position)
                if position < 0:  # pragma: no cover - close comes after
                    return False
            elif text.startswith("/*", position):
                position = text.find("*/", position + 2) + 2
            elif text[position] == ",":
                return True
            else:
                position += 1
        return False

    def insert(self, span: Span, path: tuple[str, ...],
               entries: list[tuple[str | None, Any]]) -> None:
        runs: list[tuple[str, list[tuple[str | None, Any]]]] = []
        for key, value in entries:
            label = self.names(path, key, value)
            if runs and runs[-1][0] == label:
                runs[-1][1].append((key, value))
            else:
                runs.append((label, [(key, value)]))
        text = self.text
        close = span.end - 1
        last_end = span.children[-1].end if span.children else span.start + 1
        if span.children and not self.comma_after(last_end, close):
            self.edits.append((last_end, 0, ","))
        one_line = "\n" not in text[span.start:span.end]
        if path and one_line and span.children:
            # A one-line list or object stays on one line.
            pieces = [f"/* {label}: {ADDED_BY} */ " + ", ".join(
                inline(value) if key is None else f"{key_text(key)}: {inline(value)}"
                for key, value in run) for label, run in runs]
            self.edits.append((close, 1, " " + ", ".join(pieces)))
            return
        if span.children:
            indent = self.indent_at(span.children[-1].start)
        elif one_line:  # an empty [] or {} opens into lines
            indent = self.indent_at(span.start) + self.unit
        else:
            indent = self.indent_at(close) + self.unit
        lines: list[str] = []
        for label, run in runs:
            if not path:
                lines.append("")
            lines.append(f"{indent}// {label}: {ADDED_BY}")
            for number, (key, value) in enumerate(run):
                if number and not path:
                    lines.append("")
                prefix = "" if key is None else key_text(key) + ": "
                written = value_lines(value, prefix)
                if self.unit == "\t":  # the writer's own unit, as in exported policies
                    lines += [indent + line for line in written]
                else:
                    lines += [self.indented(line, indent) for line in written]
        line_start = text.rfind("\n", 0, close) + 1
        if line_start > last_end and not text[line_start:close].strip():
            self.edits.append((line_start, 1, self.newline.join(lines) + self.newline))
        else:
            block = self.newline.join(lines)
            self.edits.append((close, 1, self.newline + block + self.newline
                               + self.indent_at(close)))

    def indented(self, line: str, indent: str) -> str:
        tabs = len(line) - len(line.lstrip("\t"))
        return indent + self.unit * tabs + line[tabs:]


def _differs(base: Any, merged: Any) -> bool:
    # `!=` settles most cases at C speed; equal values are compared canonically too, since
    # 1 == 1.0 == True for Python but not in the policy file.
    return base != merged or canonical(base) != canonical(merged)


def _where(path: tuple[str, ...]) -> str:
    if not path:
        return "the top level"
    where = path[0]
    for key in path[1:]:
        where = key_path(where, key)
    return where
