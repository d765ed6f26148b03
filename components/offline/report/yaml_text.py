"""YAML text of plain plan data (dicts, lists, strings, numbers, booleans, null), fast.

Same bytes as `yaml.dump_all` with PyYAML's safe dumper; only the Python side of dumping is
shorter. libyaml's C emitter writes the text when PyYAML was built with it, but PyYAML still
builds a node per value in Python and asks its resolver, twice per scalar, whether the value
would read back as something else. For a plan of a thousand objects that Python side is most
of the time: scalars get their node directly here, and the resolver's answers are kept per
value (a plan repeats the same few strings: kinds, API versions, labels).
"""

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


def dump_documents(documents: Sequence[Any]) -> str:
    """The documents as a YAML stream: each after `---`, block style, keys in given order."""
    text: str = yaml.dump_all(documents, Dumper=PlanDumper, sort_keys=False,
                              explicit_start=True, default_flow_style=False,
                              allow_unicode=True, width=100)
    return text
