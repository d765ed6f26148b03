"""Merge a hand-maintained base tailnet policy with generated fragments.

The base policy belongs to other teams: every entry in it survives unchanged
and in place, and generated content is only ever appended.  Where a fragment
disagrees with the base (or with another fragment) nothing is guessed: all
disagreements are collected and raised together as a `MergeError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..problems import InvalidConfig, Problem
from .sections import section_key
from .values import canonical, key_path, same_value, shown

__all__ = ["Conflict", "MergeError", "PolicyMerge", "merge_policies"]

# Objects mapping a name to owners/members (hosts: to an address).  Unknown
# top-level objects are treated the same way when all their values look alike.
_OWNER_MAP_SECTIONS: Final = frozenset({"tagOwners", "groups", "postures", "hosts"})
_OWNER_MAP_SECTIONS_LOWER: Final = frozenset(name.lower() for name in _OWNER_MAP_SECTIONS)
_RENAME_HINTS: Final = {
    "tagOwners": "rename the tag",
    "groups": "rename the group",
    "hosts": "rename the host alias",
    "postures": "rename the posture",
}
_SHOW_MAX: Final = 120


class _Missing:
    pass


_MISSING: Final = _Missing()


def _show(value: Any) -> str:
    return shown(value, _SHOW_MAX)


@dataclass(frozen=True)
class Conflict:
    """Two sides that want different values at ``path``.

    ``base`` is the value already in the merged policy: from the base policy,
    or from fragment ``other_fragment`` when that is set.
    """

    path: str
    base: Any
    fragment: Any
    fragment_name: str
    other_fragment: str | None = None

    def describe(self) -> str:
        section, nested, _ = self.path.partition("[")
        if not nested:
            hint = "change the value"
        elif section == "autoApprovers":
            hint = "change the approvers"
        else:
            hint = _RENAME_HINTS.get(section, "use a different key")
        wanted = f"cluster {self.fragment_name!r} needs {_show(self.fragment)}"
        if self.other_fragment is None:
            return (
                f"{self.path}: the base policy says {_show(self.base)} but {wanted};"
                f" make them equal in the base file or {hint} in the stack config"
            )
        return (
            f"{self.path}: cluster {self.other_fragment!r} needs {_show(self.base)}"
            f" but {wanted}; make them equal or {hint} in one of the two stack configs"
        )


def _conflict_order(conflict: Conflict) -> tuple[str, str, str, str, str]:
    return (
        conflict.path,
        conflict.fragment_name,
        conflict.other_fragment or "",
        canonical(conflict.base),
        canonical(conflict.fragment),
    )


class MergeError(ValueError):
    """Raised with every conflict found, not just the first."""

    def __init__(self, conflicts: Sequence[Conflict]) -> None:
        super().__init__(list(conflicts))
        self.conflicts: list[Conflict] = list(conflicts)

    def __str__(self) -> str:
        count = len(self.conflicts)
        head = (
            f"{count} conflict{'' if count == 1 else 's'} between the base policy"
            " and the generated policy fragments:"
        )
        return "\n".join([head, *(f"  {c.describe()}" for c in self.conflicts)])


def merge_policies(
    base: Mapping[str, Any], fragments: Sequence[tuple[str, Mapping[str, Any]]]
) -> dict[str, Any]:
    """Return ``base`` with each ``(name, policy)`` fragment merged in.

    The result does not depend on the order of ``fragments``; neither input
    is modified.  Raises `MergeError` listing all conflicts, and `InvalidConfig`
    for arguments of the wrong shape or two fragments sharing a name (their
    conflicts would be ambiguous).
    """
    merge = PolicyMerge(base, fragments)
    if merge.conflicts:
        raise MergeError(merge.conflicts)
    return merge.result


class PolicyMerge:
    """``merge_policies`` kept open: `add` merges more sections of a fragment already in it
    (a cluster's tests, decided on the rules merged so far) without merging the rest again."""

    def __init__(
        self, base: Mapping[str, Any], fragments: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> None:
        problems = argument_problems(base, fragments)
        if problems:
            raise InvalidConfig(problems, subject="merge_policies arguments")
        plain = [(name, _plain(policy)) for name, policy in fragments]
        # Content first so the result cannot depend on the given order; the name
        # only breaks ties between identical fragments.
        if len(plain) > 1:
            plain.sort(key=lambda item: (canonical(item[1]), item[0]))
        self._merger = _Merger(_plain(base))
        for name, policy in plain:
            self._merger.add(name, policy)

    @property
    def result(self) -> dict[str, Any]:
        """The merged policy (incomplete where there are conflicts)."""
        return self._merger.result

    @property
    def conflicts(self) -> list[Conflict]:
        return sorted(self._merger.conflicts, key=_conflict_order)

    def add(self, name: str, sections: Mapping[str, Any]) -> None:
        self._merger.add(name, _plain(sections))


def argument_problems(
    base: object, fragments: object
) -> list[Problem]:
    """Why ``merge_policies`` cannot take these arguments (nothing when it can)."""
    if not isinstance(base, Mapping):
        problems = [Problem("base", f"is {type(base).__name__}, not a policy.",
                            "pass the base policy as a dict ({} for none).")]
    else:
        problems = []
    if not isinstance(fragments, Sequence) or isinstance(fragments, str | bytes):
        return [*problems, Problem("fragments", f"is {type(fragments).__name__}, not a list.",
                                   "pass a list of (name, policy) pairs.")]
    first_index: dict[str, int] = {}
    for index, pair in enumerate(fragments):
        key = f"fragments[{index}]"
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            problems.append(Problem(key, f"is {type(pair).__name__}, not a (name, policy) pair.",
                                    "pass each fragment as (name, policy)."))
            continue
        name, policy = pair
        if not isinstance(name, str):
            problems.append(Problem(key, f"has a name of type {type(name).__name__}.",
                                    "name each fragment with a string, e.g. its cluster."))
        elif name in first_index:
            problems.append(Problem(key, f"is named {name!r} like fragments[{first_index[name]}]"
                                    "; fragment names must be unique.",
                                    "give every fragment its own name."))
        else:
            first_index[name] = index
        if not isinstance(policy, Mapping):
            problems.append(Problem(key, f"has a policy of type {type(policy).__name__}.",
                                    "pass the policy as a dict ({} for an empty fragment)."))
    return problems


def _plain(value: Any) -> Any:
    """Deep copy into plain dicts and lists (fragments may use tuples)."""
    # Exact types first: isinstance against the Mapping ABC is most of the cost of copying a
    # large policy.
    kind = type(value)
    if kind is str or kind is bool or kind is int or kind is float or value is None:
        return value
    if kind is dict:
        return {key: _plain(item) for key, item in value.items()}
    if kind is list:
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _is_owner_map(value: dict[str, Any]) -> bool:
    return all(
        isinstance(item, str) or (isinstance(item, list) and all(isinstance(x, str) for x in item))
        for item in value.values()
    )


def _kind(key: str, value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        if key.lower() == "autoapprovers":
            return "approvers"
        if key.lower() in _OWNER_MAP_SECTIONS_LOWER or _is_owner_map(value):
            return "map"
    return "value"


class _Merger:
    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result
        # Path -> fragment that introduced the value there, to name it in conflicts.
        self.origin: dict[str, str] = {}
        self.conflicts: list[Conflict] = []
        # Canonical forms of the entries of each list already merged, by the list's id: kept
        # across fragments so that merging N fragments stays linear in their size.
        self.seen: dict[int, set[str]] = {}

    def append_new(self, target: list[Any], items: list[Any]) -> None:
        seen = self.seen.get(id(target))
        if seen is None:
            seen = self.seen[id(target)] = {canonical(item) for item in target}
        for item in items:
            key = canonical(item)
            if key not in seen:
                seen.add(key)
                target.append(item)

    def add(self, name: str, policy: dict[str, Any]) -> None:
        for fragment_key, value in policy.items():
            # Tailscale reads top-level keys without regard to case: a base written with
            # "ACLs" or "TagOwners" gets the fragment's entries in that same section.
            key = section_key(self.result, fragment_key) or fragment_key
            kind = _kind(key, value)
            current = self.result.get(key, _MISSING)
            if kind == "value" or not (current is _MISSING or _kind(key, current) == kind):
                self.settle(self.result, key, key, value, name)
                continue
            if current is _MISSING:
                current = self.result[key] = [] if kind == "list" else {}
                self.origin[key] = name
            if kind == "list":
                self.append_new(current, value)
            elif kind == "map":
                for entry, owners in value.items():
                    self.settle(current, entry, key_path(key, entry), owners, name)
            else:
                self.union_approvers(current, value, name)

    def union_approvers(self, current: dict[str, Any], wanted: dict[str, Any], name: str) -> None:
        # Approvers only grant what a fragment explicitly asks for, so they
        # are unioned rather than compared.
        for section, value in wanted.items():
            path = key_path("autoApprovers", section)
            existing = current.get(section, _MISSING)
            if isinstance(value, list) and (existing is _MISSING or isinstance(existing, list)):
                if existing is _MISSING:
                    existing = current[section] = []
                    self.origin[path] = name
                self.append_new(existing, value)
            elif isinstance(value, dict) and (existing is _MISSING or isinstance(existing, dict)):
                if existing is _MISSING:
                    existing = current[section] = {}
                    self.origin[path] = name
                for entry, approvers in value.items():
                    entry_path = key_path(path, entry)
                    have = existing.get(entry, _MISSING)
                    if isinstance(approvers, list) and (have is _MISSING or isinstance(have, list)):
                        if have is _MISSING:
                            have = existing[entry] = []
                            self.origin[entry_path] = name
                        self.append_new(have, approvers)
                    else:
                        self.settle(existing, entry, entry_path, approvers, name)
            else:
                self.settle(current, section, path, value, name)

    def settle(self, container: dict[str, Any], key: str, path: str, value: Any, name: str) -> None:
        """Add ``value`` under ``key`` if absent, else record a conflict if it differs."""
        current = container.get(key, _MISSING)
        if current is _MISSING:
            container[key] = value
            self.origin[path] = name
        elif not same_value(current, value):
            self.conflicts.append(Conflict(path, current, value, name, self.origin.get(path)))
