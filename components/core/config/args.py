"""Checks of a sub-component's own args (snake_case fields), for library callers."""

from typing import Any

from ..identifiers import DNS_LABEL, TAG
from ..problems import Problem
from .identities import check_tag
from .reader import describe


class ArgChecker:
    """Collects problems in a sub-component's args (snake_case field names)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def tags(self, key: str, tags: Any, required: bool = True) -> None:
        if not isinstance(tags, (list, tuple)) or (required and not tags):
            self.problems.append(
                Problem(key, "expected a non-empty list of tags.", 'e.g. ["tag:k8s"].')
            )
            return
        for index, tag in enumerate(tags):
            if not isinstance(tag, str) or not TAG.match(tag):
                check_tag(self.problems, f"{key}[{index}]", str(tag))

    def tag(self, key: str, tag: Any) -> None:
        if not isinstance(tag, str) or not TAG.match(tag):
            check_tag(self.problems, key, str(tag))

    def dns_label(self, key: str, value: Any) -> None:
        if not isinstance(value, str) or not DNS_LABEL.match(value):
            self.problems.append(
                Problem(
                    key,
                    f"{describe(value)} is not a DNS label.",
                    "use lower-case letters, digits and dashes, at most 63 "
                    "characters, starting and ending with a letter or digit.",
                )
            )

    def replicas(self, key: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.problems.append(
                Problem(
                    key,
                    f"must be a whole number of at least 1, got {describe(value)}.",
                    "use 1 or more.",
                )
            )

    def one_of(self, key: str, value: Any, allowed: tuple[str, ...]) -> None:
        if value not in allowed:
            self.problems.append(
                Problem(
                    key,
                    f"{describe(value)} is not allowed.",
                    "use one of " + ", ".join(f'"{a}"' for a in allowed) + ".",
                )
            )

