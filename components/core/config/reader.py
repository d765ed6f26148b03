"""One generic reader: any spec class of `core.spec`, from stack config or component args.

Each field's annotation is its type and its `Key` (field metadata) the rest of its rule, so
a setting is declared once and read, checked and documented from that declaration. Stack
config spells keys in camelCase, component args in snake_case (other languages reach the
args through the provider, which maps the schema's camelCase names); problems are named by
the camelCase path either way, and a value of the wrong type is described, never repeated.
"""

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, is_dataclass
from functools import cache
from typing import Any, Literal, TypeVar

from ..declare import Key, arg_name, config_name, declared
from ..identifiers import secret_shape
from ..problems import Problem

# "config": a stack file through the engine (camelCase; scalars may arrive as strings);
# "args": a component's args (snake_case; values as the caller typed them).
Source = Literal["config", "args"]
T = TypeVar("T")

ObjectRule = Callable[["SpecReader", Any, str, frozenset[str]], None]
ValueRule = Callable[["SpecReader", str, Any], None]


def looks_like_output(value: Any) -> bool:
    # Component callers pass pulumi.Output secrets; the pure core only checks presence.
    return type(value).__name__ == "Output"


def is_secret_placeholder(value: Any) -> bool:
    """A `secure:` value that could not be decrypted here (offline plan): an unknown secret."""
    return isinstance(value, Mapping) and set(value) == {"secure"}


def describe(value: Any) -> str:
    """What a value of the wrong type is, without repeating it: it may be a credential given
    in the wrong place, and error messages reach job logs and pull request comments."""
    kind = secret_shape(value)
    if kind:
        return f"a string that looks like {kind}, not shown"
    if isinstance(value, bool):
        return "true or false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    if looks_like_output(value):
        return "a Pulumi Output (this setting takes a plain value)"
    return "a value of another type"


def quoted(value: str) -> str:
    """A string of the right type named in a message (its shape is what is wrong)."""
    return f'"{value}"'


@cache
def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_spec(annotation: Any) -> bool:
    return isinstance(annotation, type) and is_dataclass(annotation)


def optional_spec(annotation: Any) -> type | None:
    """`S3Storage | None` -> S3Storage."""
    if isinstance(annotation, types.UnionType):
        present = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(present) == 1 and _is_spec(present[0]):
            return typing.cast(type, present[0])
    return None


@cache
def _known(cls: type, source: Source) -> dict[str, tuple[Field[Any], Key, str]]:
    """A spec class's declared fields by the name `source` spells them, with each one's
    camelCase name (declarations do not change: read once per class)."""
    return {(config_name(item, declaration) if source == "config"
             else arg_name(item, declaration)): (item, declaration,
                                                 config_name(item, declaration))
            for item, declaration in declared(cls)}


class SpecReader:
    """Reads spec classes from one source, collecting problems under camelCase paths."""

    def __init__(self, source: Source, problems: list[Problem] | None = None) -> None:
        self.source = source
        self.problems = problems if problems is not None else []
        self.kept: dict[str, Any] = {}
        """Values kept out of the spec (secrets, Pulumi inputs), by camelCase path."""
        self.given: dict[str, frozenset[str]] = {}
        """Field names given in each object read, by its path."""

    def problem(self, key: str, message: str, fix: str = "") -> None:
        self.problems.append(Problem(key, message, fix))

    def require(self, key: str, declaration: Key) -> None:
        why = f": {declaration.why}." if declaration.why else "."
        self.problem(key, f"is required{why}", declaration.fix or "give a value for it.")

    def read(self, cls: type[T], data: Any, path: str = "") -> T:
        """An instance of `cls` from `data`; problems are recorded, defaults fill the gaps."""
        from .rules import OBJECT_RULES

        if not isinstance(data, Mapping):
            self.problem(path, f"expected an object, got {describe(data)}.",
                         "give the settings as key: value pairs.")
            data = {}
        known = _known(typing.cast(type, cls), self.source)
        for name in data:
            if name not in known:
                self.problems.append(Problem(
                    join(path, str(name)), "is not a known setting.",
                    f"check the spelling; known keys here: {', '.join(known)}.", as_given=True))
        values: dict[str, Any] = {}
        given: set[str] = set()
        types_of = hints(typing.cast(type, cls))
        for name, (item, declaration, camel_name) in known.items():
            key = join(path, camel_name)
            raw = data.get(name)
            if raw is None and self.source == "config" and declaration.default is not None:
                raw = declaration.default
            if raw is None or (declaration.required and raw == ""):
                if declaration.required:
                    self.require(key, declaration)
                values[item.name] = empty(item, types_of[item.name])
                continue
            given.add(item.name)
            values[item.name] = self.value(types_of[item.name], declaration, raw, key,
                                           empty(item, types_of[item.name]))
        instance = cls(**values)
        self.given[path] = frozenset(given)
        rule = OBJECT_RULES.get(cls)
        if rule is not None:
            rule(self, instance, path, frozenset(given))
        return instance

    def value(self, annotation: Any, declaration: Key, raw: Any, key: str, fallback: Any) -> Any:
        if declaration.secret or declaration.passthrough:
            return self.keep(declaration, raw, key)
        nested = optional_spec(annotation)
        if nested is not None or _is_spec(annotation):
            return self.read(nested or annotation, raw, key)
        origin = typing.get_origin(annotation)
        if origin is tuple:
            return self.sequence(typing.get_args(annotation)[0], declaration, raw, key, fallback)
        if origin is dict:
            return self.named_lists(declaration, raw, key, fallback)
        if origin is Literal:
            return self.choice(typing.get_args(annotation), declaration, raw, key, fallback)
        if annotation is bool:
            return self.boolean(raw, key, fallback)
        if annotation is int:
            return self.integer(declaration, raw, key, fallback)
        return self.string(declaration, raw, key, fallback)

    def keep(self, declaration: Key, raw: Any, key: str) -> bool:
        if declaration.secret and not (isinstance(raw, str) or is_secret_placeholder(raw)
                                       or looks_like_output(raw)):
            self.problem(key, f"expected a string, got {describe(raw)}.", declaration.fix)
            return False
        self.kept[key] = raw
        return True

    def refuse_secret(self, key: str, value: object) -> bool:
        """A credential in a setting that is not secret would be written in plain text into
        the stack file, the plan and the state: refuse it, without repeating it."""
        kind = secret_shape(value)
        if kind:
            self.problem(key, f"holds what looks like {kind}; this setting is not secret, so "
                         "it would be stored and shown in plain text.",
                         "remove it, revoke the credential if it was committed, and give "
                         "credentials only in the settings meant for them, set with `pulumi "
                         "config set --secret --path oauth.clientSecret` (or "
                         "sessionRecording.s3.secretAccessKey).")
        return bool(kind)

    def string(self, declaration: Key, raw: Any, key: str, fallback: Any) -> Any:
        if self.refuse_secret(key, raw):
            return fallback
        if not isinstance(raw, str):
            self.problem(key, f"expected a string, got {describe(raw)}.", declaration.fix)
            return fallback
        self.check_text(declaration, raw, key)
        return raw

    def check_text(self, declaration: Key, text: str, key: str) -> None:
        pattern = declaration.pattern
        if pattern is not None and not pattern.match(text):
            what = f"a valid {pattern.what}" if pattern.what else "valid"
            self.problem(key, f"{quoted(text)} is not {what}.", declaration.fix)
        elif declaration.rule:
            from .rules import VALUE_RULES

            VALUE_RULES[declaration.rule](self, key, text)

    def choice(self, options: tuple[str, ...], declaration: Key, raw: Any, key: str,
               fallback: Any) -> Any:
        if self.refuse_secret(key, raw):
            return fallback
        if not isinstance(raw, str):
            self.problem(key, f"expected a string, got {describe(raw)}.", declaration.fix)
            return fallback
        if raw not in options:
            self.problem(key, f"{quoted(raw)} is not one of "
                         + ", ".join(quoted(option) for option in options) + ".",
                         declaration.fix or "use one of them.")
            return fallback
        return raw

    def boolean(self, raw: Any, key: str, fallback: Any) -> Any:
        # The engine passes scalar config as strings; accept the two spellings it writes.
        if self.source == "config" and raw in ("true", "false"):
            return raw == "true"
        if not isinstance(raw, bool):
            self.problem(key, f"expected true or false, got {describe(raw)}.",
                         "write true or false without quotes.")
            return fallback
        return raw

    def integer(self, declaration: Key, raw: Any, key: str, fallback: Any) -> Any:
        if (self.source == "config" and isinstance(raw, str) and raw.isascii()
                and raw.isdigit() and len(raw) < 19):
            raw = int(raw)
        if isinstance(raw, bool) or not isinstance(raw, int):
            self.problem(key, f"expected a whole number, got {describe(raw)}.",
                         "write a number without quotes.")
            return fallback
        if declaration.maximum is not None and raw > declaration.maximum:
            self.problem(key, f"must be at most {declaration.maximum}.",
                         f"set it to {declaration.maximum} or less.")
            return fallback
        if declaration.minimum is not None and raw < declaration.minimum:
            self.problem(key, f"must be at least {declaration.minimum}, got {raw}.",
                         f"set it to {declaration.minimum} or more.")
            return fallback
        return raw

    def sequence(self, item_type: Any, declaration: Key, raw: Any, key: str,
                 fallback: Any) -> Any:
        name = key.rsplit(".", 1)[-1]
        objects = _is_spec(item_type)
        if not isinstance(raw, (list, tuple)):
            if objects:
                self.problem(key, f"expected a list of objects, got {describe(raw)}.",
                             f"write each entry of {name} as a YAML list item starting with "
                             "'-'.")
            else:
                self.problem(key, f"expected a list of strings, got {describe(raw)}.",
                             f'write it as a YAML list, e.g. {name}: ["..."].')
            return fallback
        if declaration.required and not raw and not declaration.empty_ok:
            self.problem(key, "must not be empty.", "give at least one entry.")
        items: list[Any] = []
        for index, item in enumerate(raw):
            item_key = f"{key}[{index}]"
            if objects:
                if not isinstance(item, Mapping):
                    self.problem(item_key, f"expected an object, got {describe(item)}.",
                                 "give the entry's settings as key: value pairs.")
                    continue
                items.append(self.read(item_type, item, item_key))
                continue
            if not isinstance(item, str):
                self.problem(item_key, f"expected a string, got {describe(item)}.",
                             declaration.fix)
                continue
            if self.refuse_secret(item_key, item):
                continue
            if item in items:
                self.problem(item_key, f"{quoted(item)} is listed twice.",
                             "remove the duplicate.")
                continue
            self.check_item(declaration, item, item_key)
            items.append(item)
        if objects and declaration.rule:
            from .rules import LIST_RULES

            LIST_RULES[declaration.rule](self, key, items)
        return tuple(items)

    def check_item(self, declaration: Key, item: str, key: str) -> None:
        if declaration.item_rule:
            from .rules import ITEM_RULES

            ITEM_RULES[declaration.item_rule](self.problems, key, item)
        else:
            self.check_text(declaration, item, key)

    def named_lists(self, declaration: Key, raw: Any, key: str, fallback: Any) -> Any:
        """An object whose keys are names (groups, postures), each with a list of strings."""
        if not isinstance(raw, Mapping):
            self.problem(key, f"expected an object, got {describe(raw)}.", declaration.fix)
            return fallback
        result: dict[str, tuple[str, ...]] = {}
        for entry, members in raw.items():
            entry_key = f"{key}.{entry}"
            pattern = declaration.key_pattern
            if not isinstance(entry, str) or (pattern is not None and not pattern.match(entry)):
                self.problem(entry_key, f"{quoted(str(entry))} is not a valid name here.",
                             declaration.fix)
                continue
            if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
                self.problem(entry_key, f"expected a list of strings, got {describe(members)}.",
                             'write it as a YAML list, e.g. ["alice@example.com"].')
                continue
            for index, member in enumerate(members):
                member_key = f"{entry_key}[{index}]"
                if not self.refuse_secret(member_key, member) and declaration.item_rule:
                    self.check_item(declaration, member, member_key)
            result[entry] = tuple(members)
        return result


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def empty(item: Field[Any], annotation: Any) -> Any:
    """The value of a field left out: its default, or the empty value of its type."""
    if item.default is not MISSING:
        return item.default
    if item.default_factory is not MISSING:
        return item.default_factory()
    if annotation is bool:
        return False
    if annotation is int:
        return 0
    if typing.get_origin(annotation) is tuple:
        return ()
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)[0]
    return ""


def read_spec(cls: type[T], data: Any, source: Source
              ) -> tuple[T, dict[str, Any], list[Problem]]:
    """`cls` from `data`: the instance, the values kept apart, and every problem."""
    reader = SpecReader(source)
    instance = reader.read(cls, data)
    return instance, reader.kept, reader.problems


def namespaced_string_keys(cls: type) -> frozenset[str]:
    """Top-level keys whose value is a plain string even when it looks like JSON."""
    return frozenset(config_name(item, declaration) for item, declaration in declared(cls)
                     if hints(cls)[item.name] is str)


__all__ = ["ObjectRule", "Source", "SpecReader", "ValueRule", "describe", "is_secret_placeholder",
           "looks_like_output", "quoted", "read_spec"]
