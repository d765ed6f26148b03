"""How a setting is declared: `Key` field metadata on the spec dataclasses (core.spec,
core.parts). The reader, the JSON Schema, the config reference and the args TypedDicts all
follow these declarations."""

from collections.abc import Iterator
from dataclasses import Field, dataclass, fields
from typing import Any

from .identifiers import Identifier


@dataclass(frozen=True)
class Key:
    """How one setting is given and checked: the declaration the reader, the JSON Schema, the
    config reference and the args TypedDicts all follow. Its type is the field's annotation;
    its default the field's default."""

    doc: str
    """What it means (the config reference, the args docstring, the schema description)."""
    fix: str = ""
    """What to do when the value is wrong."""
    name: str = ""
    """The camelCase key when it is not the field's name in camelCase."""
    pattern: Identifier | None = None
    """Strings (or every string of a list) must match it whole."""
    minimum: int | None = None
    maximum: int | None = None
    required: bool = False
    """Must be given (a list: non-empty)."""
    why: str = ""
    """Why it is required, where a reader would not guess."""
    empty_ok: bool = False
    """A required list that may be given empty (a rule of its object decides)."""
    secret: bool = False
    """A credential: the value is kept apart from the spec (which records only whether it is
    set) and stays a Pulumi secret."""
    passthrough: bool = False
    """Any Pulumi input (an Output too): kept apart like a secret, but not one."""
    rule: str = ""
    """A further check of the value, by name (core.config.rules)."""
    item_rule: str = ""
    """A further check of every string of a list or map, by name."""
    key_pattern: Identifier | None = None
    """A map's keys must match it whole."""
    default: object = None
    """The value when a stack file leaves the key out, where it is not the field's default."""
    default_doc: str = ""
    """The default as the reference shows it, where it is computed."""


def key(doc: str, **details: Any) -> dict[str, Key]:
    """Field metadata declaring a setting."""
    return {"key": Key(doc, **details)}


def declared(cls: type) -> Iterator[tuple[Field[Any], Key]]:
    """The declared fields of a spec class, in order."""
    for item in fields(cls):
        declaration = item.metadata.get("key")
        if isinstance(declaration, Key):
            yield item, declaration


def camel(name: str) -> str:
    """`kubernetes_groups` -> `kubernetesGroups`."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def config_name(item: Field[Any], declaration: Key) -> str:
    return declaration.name or camel(item.name)


def arg_name(item: Field[Any], declaration: Key) -> str:
    """The key in component args: the config key in snake_case."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in config_name(item, declaration))
