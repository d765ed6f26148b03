"""A small typed reader over one object of configuration that collects problems.

Stack config spells keys in camelCase (`kubernetesGroups`), component args from Python in
snake_case (`kubernetes_groups`). The reader is told which, looks each key up in that
spelling, and names every problem by the config's camelCase path, so both sources share one
set of checks and messages (the component's error names both spellings).
"""

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

from ..identifiers import Identifier, secret_shape
from ..problems import Problem

# "config": camelCase keys only. "args": snake_case, or the schema's camelCase (other
# languages through the provider); both spellings of one key at once are a problem.
Spelling = Literal["config", "args"]


def snake(name: str) -> str:
    """`kubernetesGroups` -> `kubernetes_groups`."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


class ConfigReader:
    """Reads one object of the config, recording problems under dotted key paths."""

    def __init__(self, data: Mapping[str, Any], path: str, problems: list[Problem],
                 spelling: Spelling = "config") -> None:
        self.data = data
        self.path = path
        self.problems = problems
        self.spelling = spelling
        self.seen: set[str] = set()
        self._used: set[str] = set()
        self._twice: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def problem(self, key: str, message: str, fix: str = "") -> None:
        self.problems.append(Problem(key, message, fix))

    def child(self, data: Mapping[str, Any], path: str) -> "ConfigReader":
        return ConfigReader(data, path, self.problems, self.spelling)

    def source_key(self, name: str) -> str:
        """The key `name` is given under in the data (its own spelling if absent)."""
        if self.spelling == "args":
            python = snake(name)
            if python != name and python in self.data:
                if name in self.data and name not in self._twice:
                    self._twice.add(name)
                    self.problem(self.key(name), f"is given twice, as {python} and as {name}.",
                                 f"keep one of them (in Python, {python}).")
                return python
        return name

    def get(self, name: str) -> Any:
        self.seen.add(name)
        key = self.source_key(name)
        self._used.update((key, name))
        return self.data.get(key)

    def has(self, name: str) -> bool:
        return self.get(name) is not None

    def string(self, name: str, default: str, pattern: Identifier | None = None,
               fix: str = "") -> str:
        value = self.get(name)
        if value is None:
            return default
        if self.refuse_secret(self.key(name), value):
            return default
        if not isinstance(value, str):
            self.problem(self.key(name), f"expected a string, got {describe(value)}.", fix)
            return default
        if pattern is not None and not pattern.match(value):
            self.problem(self.key(name), f"{describe(value)} is not valid.", fix)
        return value

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

    def boolean(self, name: str, default: bool) -> bool:
        value = self.get(name)
        if value is None:
            return default
        # Pulumi passes scalar config as strings; accept the two spellings it writes.
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        if not isinstance(value, bool):
            self.problem(self.key(name), f"expected true or false, got {describe(value)}.",
                         "write true or false without quotes.")
            return default
        return value

    def integer(self, name: str, default: int, minimum: int, maximum: int = 1000) -> int:
        value = self.get(name)
        if value is None:
            return default
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(self.key(name), f"expected a whole number, got {describe(value)}.")
            return default
        if value > maximum:
            self.problem(self.key(name), f"must be at most {maximum}.",
                         f"set it to {maximum} or less.")
            return default
        if value < minimum:
            self.problem(self.key(name), f"must be at least {minimum}, got {value}.",
                         f"set it to {minimum} or more.")
            return default
        return value

    def string_list(self, name: str, item_check: Callable[[str, str], None] | None = None,
                    required: bool = False) -> tuple[str, ...]:
        value = self.get(name)
        key = self.key(name)
        if value is None:
            if required:
                self.problem(key, "is required.", "give a non-empty list.")
            return ()
        if not isinstance(value, (list, tuple)):
            self.problem(key, f"expected a list of strings, got {describe(value)}.",
                         f'write it as a YAML list, e.g. {name}: ["..."].')
            return ()
        if required and not value:
            self.problem(key, "must not be empty.", "give at least one entry.")
        items: list[str] = []
        for index, item in enumerate(value):
            item_key = f"{key}[{index}]"
            if not isinstance(item, str):
                self.problem(item_key, f"expected a string, got {describe(item)}.")
                continue
            if self.refuse_secret(item_key, item):
                continue
            if item in items:
                self.problem(item_key, f"{describe(item)} is listed twice.",
                             "remove the duplicate.")
                continue
            if item_check is not None:
                item_check(item_key, item)
            items.append(item)
        return tuple(items)

    def obj(self, name: str) -> "ConfigReader":
        value = self.get(name)
        key = self.key(name)
        if value is None:
            return self.child({}, key)
        if not isinstance(value, Mapping):
            self.problem(key, f"expected an object, got {describe(value)}.")
            return self.child({}, key)
        return self.child(value, key)

    def objects(self, name: str) -> Iterator["ConfigReader"]:
        value = self.get(name)
        key = self.key(name)
        if value is None:
            return
        if not isinstance(value, (list, tuple)):
            self.problem(key, f"expected a list of objects, got {describe(value)}.",
                         f"write each entry of {name} as a YAML list item starting with '-'.")
            return
        for index, item in enumerate(value):
            item_key = f"{key}[{index}]"
            if not isinstance(item, Mapping):
                self.problem(item_key, f"expected an object, got {describe(item)}.",
                             "give the entry's settings as key: value pairs.")
                continue
            yield self.child(item, item_key)

    def mapping(self, name: str) -> Mapping[str, Any]:
        """An object whose keys are names (groups, postures): read verbatim."""
        value = self.get(name)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problem(self.key(name), f"expected an object, got {describe(value)}.")
            return {}
        return value

    def finish(self) -> None:
        """Unknown keys are errors: a typo must not silently fall back to a default."""
        for name in self.data:
            if name in self._used:
                continue
            known = ", ".join(sorted(self.seen)) or "none"
            self.problem(self.key(str(name)), "is not a known setting.",
                         f"check the spelling; known keys here: {known}.")
