"""YAML text of plain plan data (dicts, lists, strings, numbers, booleans, null), fast.

Same bytes as `yaml.dump_all` with PyYAML's safe dumper, block style. PyYAML builds a node
per value in Python and asks its resolver, twice per scalar, whether the value would read
back as something else; for a plan of a thousand objects that is most of the time. Two
shorter paths:

- A document whose strings are all unmistakably plain (ASCII letters, digits and `._/@-`,
  `:` not before a space or at the end; nothing the resolver reads as another type), whose
  values are dicts, lists, strings, integers, booleans and null, and which holds no object
  twice (PyYAML would write an anchor) is written directly: block layout needs no choices
  then.
- Any other document goes through PyYAML with a scalar short cut and a memo of the
  resolver (`PlanDumper`).
"""

import re
from collections.abc import Sequence
from typing import Any

import yaml
from yaml.nodes import Node, ScalarNode

_BASE_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"


class PlanDumper(_BASE_DUMPER):  # type: ignore[misc]
    """The safe dumper with a short path for scalars and a memo of the resolver."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._resolved: dict[tuple[str, tuple[bool, bool]], str] = {}

    def represent_data(self, data: Any) -> Node:
        # What SafeRepresenter does for these exact types (no aliases for scalars).
        kind = type(data)
        if kind is str:
            self.alias_key = None
            return ScalarNode(_STR, data, style=self.default_style)
        if kind is bool:
            self.alias_key = None
            return ScalarNode(_BOOL, "true" if data else "false", style=self.default_style)
        if kind is int:
            self.alias_key = None
            return ScalarNode(_INT, str(data), style=self.default_style)
        if data is None:
            self.alias_key = None
            return ScalarNode(_NULL, "null", style=self.default_style)
        node: Node = super().represent_data(data)
        return node

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        # Without path resolvers (the safe dumper has none) the answer depends on these alone.
        if kind is not ScalarNode or self.yaml_path_resolvers:
            tag: str = super().resolve(kind, value, implicit)
            return tag
        key = (value, implicit)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = super().resolve(kind, value, implicit)
        return found


def _dump_with_pyyaml(documents: Sequence[Any]) -> str:
    text: str = yaml.dump_all(documents, Dumper=PlanDumper, sort_keys=False,
                              explicit_start=True, default_flow_style=False,
                              allow_unicode=True, width=100)
    return text


def dump_documents(documents: Sequence[Any]) -> str:
    """The documents as a YAML stream: each after `---`, block style, keys in given order."""
    pieces: list[str] = []
    others: list[Any] = []  # consecutive documents for PyYAML, dumped together
    for document in documents:
        direct = _direct(document)
        if direct is None:
            others.append(document)
            continue
        if others:
            pieces.append(_dump_with_pyyaml(others))
            others = []
        pieces.append(direct)
    if others:
        pieces.append(_dump_with_pyyaml(others))
    return "".join(pieces)


# -- the direct path -------------------------------------------------------------------

# Plain in block context and never folded (no spaces); the resolver still has its say.
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/@-]*(?::[A-Za-z0-9._/@-]+)*", re.ASCII)
_RESOLVER: Any = yaml.resolver.Resolver()
_plain_memo: dict[str, bool] = {}
# PyYAML writes longer keys as complex keys (`? key`).
_SIMPLE_KEY_MAX = 100


class _NotDirect(Exception):
    """The document needs PyYAML's choices."""


def _is_plain(text: str) -> bool:
    known = _plain_memo.get(text)
    if known is None:
        known = (_PLAIN.fullmatch(text) is not None
                 and _RESOLVER.resolve(ScalarNode, text, (True, False)) == _STR)
        if len(_plain_memo) < 65_536:
            _plain_memo[text] = known
    return known


def _direct(document: Any) -> str | None:
    """The document as `yaml.dump_all` would write it, or None when that takes PyYAML."""
    kind = type(document)
    if kind is not dict and kind is not list:
        return None
    if not document:
        return "--- {}\n" if kind is dict else "--- []\n"
    out = ["---\n"]
    try:
        if kind is dict:
            _mapping(document, 0, False, out, set())
        else:
            _sequence(document, 0, False, out, set())
    except (_NotDirect, RecursionError):
        return None
    return "".join(out)


def _scalar(value: Any) -> str | None:
    """The text of a scalar; None for a dict or list; `_NotDirect` for anything else."""
    kind = type(value)
    if kind is str:
        text: str = value
        if _is_plain(text):
            return text
        raise _NotDirect
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    if kind is dict or kind is list:
        return None
    raise _NotDirect


def _once(value: Any, seen: set[int]) -> None:
    if id(value) in seen:
        raise _NotDirect  # PyYAML would write an anchor and an alias
    seen.add(id(value))


def _leaf(value: Any) -> str | None:
    """A scalar or an empty collection as written on its key's or dash's line, else None."""
    text = _scalar(value)
    if text is not None:
        return text
    if not value:
        return "{}" if type(value) is dict else "[]"
    return None


def _mapping(mapping: dict[Any, Any], column: int, inline: bool, out: list[str],
             seen: set[int]) -> None:
    """Keys at `column`; `inline`: the first key goes on the current line (after `- `)."""
    _once(mapping, seen)
    pad = " " * column
    for key, value in mapping.items():
        if type(key) is not str or len(key) >= _SIMPLE_KEY_MAX or not _is_plain(key):
            raise _NotDirect
        out.append(f"{key}:" if inline else f"{pad}{key}:")
        inline = False
        leaf = _leaf(value)
        if leaf is not None:
            out.append(f" {leaf}\n")
        elif type(value) is dict:
            out.append("\n")
            _mapping(value, column + 2, False, out, seen)
        else:
            out.append("\n")
            _sequence(value, column, False, out, seen)  # indentless, as PyYAML writes it


def _sequence(items: list[Any], column: int, inline: bool, out: list[str],
              seen: set[int]) -> None:
    """Items (`- `) at `column`; `inline`: the first goes on the current line."""
    _once(items, seen)
    pad = " " * column
    for item in items:
        out.append("- " if inline else f"{pad}- ")
        inline = False
        leaf = _leaf(item)
        if leaf is not None:
            out.append(f"{leaf}\n")
        elif type(item) is dict:
            _mapping(item, column + 2, True, out, seen)
        else:
            _sequence(item, column + 2, True, out, seen)
