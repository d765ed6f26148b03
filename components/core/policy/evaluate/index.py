"""Which rules can apply to a source and a destination: the evaluator's index by name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .model import PolicyModel, Principal


def _source_name(selector: str, groups: Mapping[str, tuple[str, ...]]) -> str | None:
    """The one identity a rule's source selector can match by name; None for selectors that
    may match many (`*`, autogroups, domains, addresses, hosts) or are undecidable."""
    if selector.startswith("tag:"):
        return selector
    if selector.startswith("group:"):
        return selector if selector in groups else None
    user = selector.removeprefix("user:")
    if "@" in user and not user.startswith("*") and "/" not in user:
        return user.lower()
    return None


@dataclass(frozen=True)
class _NameIndex:
    by_name: Mapping[str, frozenset[int]]
    always: frozenset[int]

    @classmethod
    def of(cls, selectors: Iterable[Sequence[str]],
           groups: Mapping[str, tuple[str, ...]]) -> _NameIndex:
        by_name: dict[str, set[int]] = {}
        always: set[int] = set()
        for index, rule_selectors in enumerate(selectors):
            names = [_source_name(selector, groups) for selector in rule_selectors]
            if not names or None in names:
                always.add(index)
                continue
            for name in names:
                if name is not None:
                    by_name.setdefault(name, set()).add(index)
        return cls({k: frozenset(v) for k, v in by_name.items()}, frozenset(always))

    def matching(self, names: set[str]) -> set[int]:
        found = set(self.always)
        for name in names:
            found.update(self.by_name.get(name, ()))
        return found

    def keep_matching(self, indices: set[int], names: set[str]) -> set[int]:
        """`indices & self.matching(names)`, at the cost of `indices`: every rule of a stack
        targets the same proxy, so that name's set is as large as the policy."""
        sets = [self.always, *(self.by_name[n] for n in names if n in self.by_name)]
        return {i for i in indices if any(i in s for s in sets)}


@dataclass(frozen=True)
class SourceIndex:
    """Which rules can apply to a source and a destination, so that a query looks at those
    rules only (a stack with a thousand teams, or a fleet of two hundred clusters, asks
    hundreds of questions; each must not scan every rule)."""

    sources: _NameIndex
    targets: _NameIndex
    groups_of: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, model: PolicyModel) -> SourceIndex:
        groups_of: dict[str, list[str]] = {}
        for group, members in model.groups.items():
            for member in members:
                groups_of.setdefault(member, []).append(group)
        return cls(_NameIndex.of((rule.src for rule in model.rules), model.groups),
                   _NameIndex.of(([t.selector for t in rule.targets] for rule in model.rules),
                                 model.groups),
                   {k: tuple(v) for k, v in groups_of.items()})

    def _names(self, kind: str, raw: str, users: Sequence[str]) -> set[str] | None:
        if kind == "tag":
            return {raw}
        if kind in ("user", "group"):
            names = {raw, *users}
            for user in users:
                names.update(self.groups_of.get(user, ()))
            return names
        return None

    def candidates(self, who: Principal, where: Principal) -> list[int] | None:
        """Indices (in rule order) of the rules that may match who -> where; None: all."""
        found: set[int] | None = None
        for index, principal in ((self.sources, who), (self.targets, where)):
            names = self._names(principal.kind, principal.raw, principal.users)
            if names is not None:
                found = (index.matching(names) if found is None
                         else index.keep_matching(found, names))
        return None if found is None else sorted(found)
