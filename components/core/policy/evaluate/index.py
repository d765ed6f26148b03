"""Which rules, and which of a rule's selectors, can match a query: found by lookup.

A policy with thousands of rules and tests, or one rule listing thousands of groups, must not
make every question scan every selector (the work would grow with the square of the policy).
Selectors are sorted into three kinds, in the order `match._match_selector` tries them:

- names: tags, defined groups and users, looked up in sets (a user's groups come from an
  inverted `groups` map);
- address ranges: IPs, CIDRs and `hosts` aliases, in a table of CIDRs sorted by start
  (two CIDRs nest or are disjoint, so those overlapping a range either contain it, found
  among its supernets, or start inside it, found by bisection);
- the rest (`*`, autogroups, `user:*@domain`, undefined groups, unknown selectors), matched
  one by one by match.py as before.

Every answer here equals that of matching each selector in turn (match.py's plain scan,
which a property test compares it with); only the work differs.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from .match import _in_tailnet, _network
from .model import _COMPANION_CAPS, Network, PolicyModel, Principal, Tri

# Kinds of principal whose matches are looked up; others (`*`, autogroup:member, ...) scan.
_NAMED: Final = frozenset({"user", "group", "tag"})
# A table this small is scanned: fewer objects per rule than sorting it would need.
_SCAN_MAX: Final = 8

Key = tuple[str, str]
Keep = Callable[[int], bool] | None
Slow = Callable[[int], Tri]


@dataclass(frozen=True)
class Query:
    """A principal as the index looks it up: the keys it matches by name, or its range."""

    principal: Principal
    keys: tuple[Key, ...] = ()
    network: Network | None = None
    # An address: whether it is in the tailnet (then whose device it is is unknown). A name:
    # whether it has devices (a group with members does), whose addresses are unknown.
    in_tailnet: bool = False

    @property
    def indexed(self) -> bool:
        return self.principal.kind in _NAMED or self.network is not None

    @classmethod
    def of(cls, who: Principal, groups_of: Mapping[str, tuple[str, ...]]) -> Query:
        keys: list[Key] = [("raw", who.raw)]
        if who.kind == "tag":
            keys.append(("tag", who.raw))
        elif who.kind in ("user", "group"):
            # A group stands for each member: `sel == member` and the member's own matches.
            for user in who.users:
                if who.kind == "group":
                    keys.append(("raw", user))
                keys.append(("user", user))
                keys += [("group", group) for group in groups_of.get(user, ())]
        elif who.kind == "ip" and who.network is not None:
            return cls(who, tuple(keys), who.network, _in_tailnet(who.network))
        return cls(who, tuple(dict.fromkeys(keys)), in_tailnet=bool(who.users)
                   or who.kind == "tag")


def _bits(network: Network) -> int:
    return network.max_prefixlen


class _NetTable:
    """CIDRs, each with a position, to find those overlapping a range."""

    def __init__(self) -> None:
        self._entries: list[tuple[Network, int]] = []
        self._by_net: dict[tuple[int, int, int], list[int]] = {}
        self._prefixes: dict[int, list[int]] = {}
        self._starts: dict[int, list[tuple[int, int, int]]] = {}

    def add(self, network: Network, position: int) -> None:
        self._entries.append((network, position))

    def freeze(self) -> None:
        if len(self._entries) <= _SCAN_MAX:
            return
        prefixes: dict[int, set[int]] = {}
        for network, position in self._entries:
            start = int(network.network_address)
            key = (network.version, start, network.prefixlen)
            self._by_net.setdefault(key, []).append(position)
            prefixes.setdefault(network.version, set()).add(network.prefixlen)
            self._starts.setdefault(network.version, []).append(
                (start, network.prefixlen, position))
        self._prefixes = {v: sorted(p, reverse=True) for v, p in prefixes.items()}
        for starts in self._starts.values():
            starts.sort()

    def __len__(self) -> int:
        return len(self._entries)

    def count(self, wanted: Network) -> tuple[int, int]:
        """How many ranges contain `wanted` and how many lie inside it (at most)."""
        if not self._by_net:
            return len(self._entries), len(self._entries)
        low, high = self._bounds(wanted)
        return sum(1 for _ in self._supernets(wanted)), high - low

    def containing(self, wanted: Network) -> Iterator[int]:
        return (position for position, contains in self.overlapping(wanted) if contains)

    def inside(self, wanted: Network) -> Iterator[int]:
        return (position for position, contains in self.overlapping(wanted) if not contains)

    def _supernets(self, wanted: Network) -> Iterator[int]:
        version, start, bits = wanted.version, int(wanted.network_address), _bits(wanted)
        for prefix in self._prefixes.get(version, ()):
            if prefix <= wanted.prefixlen:
                mask = ((1 << prefix) - 1) << (bits - prefix)
                yield from self._by_net.get((version, start & mask, prefix), ())

    def _bounds(self, wanted: Network) -> tuple[int, int]:
        """The slice of the sorted starts holding the ranges strictly inside `wanted`."""
        starts = self._starts.get(wanted.version, [])
        low = bisect.bisect_left(starts, (int(wanted.network_address), wanted.prefixlen + 1, -1))
        high = bisect.bisect_right(starts, (int(wanted.broadcast_address), _bits(wanted) + 1, -1))
        return low, high

    def overlapping(self, wanted: Network) -> Iterator[tuple[int, bool]]:
        """(position, whether its range contains `wanted`) for every overlapping range."""
        if not self._by_net:
            for network, position in self._entries:
                if network.version == wanted.version and network.overlaps(wanted):
                    yield position, (wanted.network_address in network
                                     and wanted.broadcast_address in network)
            return
        for position in self._supernets(wanted):
            yield position, True
        low, high = self._bounds(wanted)
        for _, _, position in self._starts.get(wanted.version, [])[low:high]:
            yield position, False


@dataclass
class Selectors:
    """Selectors at positions (a rule's sources, its targets, or every rule's), sorted by
    kind so that a query finds the positions it can match without trying the others."""

    count: int = 0
    keys: dict[Key, list[int]] = field(default_factory=dict)
    named: list[int] = field(default_factory=list)
    tailnet_nets: list[int] = field(default_factory=list)
    nets: _NetTable = field(default_factory=_NetTable)
    others: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, selectors: Iterable[tuple[int, str]], model: PolicyModel) -> Selectors:
        built = cls()
        for position, selector in selectors:
            built._add(selector, position, model)
        built.nets.freeze()
        return built

    def _add(self, selector: str, position: int, model: PolicyModel) -> None:
        self.count = max(self.count, position + 1)
        key = _name_key(selector, model)
        if key is not None:
            self._key(("raw", selector), position)
            self._key(key, position)
            self.named.append(position)
            return
        undefined_group = selector.startswith("group:")
        network = None if _is_other(selector) or undefined_group else _network(selector, model)
        if network is None:
            self.others.append(position)
            return
        self._key(("raw", selector), position)
        self.nets.add(network, position)
        if _in_tailnet(network):
            self.tailnet_nets.append(position)

    def _key(self, key: Key, position: int) -> None:
        positions = self.keys.setdefault(key, [])
        if not positions or positions[-1] != position:
            positions.append(position)

    def matches(self, query: Query) -> set[int] | None:
        """Every position whose selector may match `query`; None: any may."""
        if not query.indexed:
            return None
        return self.sure(query) | self.at_most_undecided(query)

    def sure(self, query: Query) -> set[int]:
        """The positions whose selector may match `query` (some surely): the name or range
        it is matched by, the ranges holding it, and the selectors matched one by one."""
        found = set(self.others)
        for key in query.keys:
            found.update(self.keys.get(key, ()))
        if query.network is not None:
            found.update(self.nets.containing(query.network))
        return found

    def at_most_undecided(self, query: Query) -> set[int]:
        """The other positions that may match `query`, none of them surely: a name against
        tailnet address ranges, an address against names or ranges it partly overlaps."""
        if query.network is None:
            return set(self.tailnet_nets) if query.in_tailnet else set()
        found = set(self.nets.inside(query.network))
        if query.in_tailnet:
            found.update(self.named)
        return found

    def estimate(self, query: Query) -> tuple[int, int] | None:
        """About how many positions `sure` and `at_most_undecided` return, not finding them."""
        if not query.indexed:
            return None
        size = len(self.others) + sum(len(self.keys.get(key, ())) for key in query.keys)
        if query.network is not None:
            named = len(self.named) if query.in_tailnet else 0
            containing, inside = self.nets.count(query.network)
            return size + containing, inside + named
        return size, len(self.tailnet_nets) if query.in_tailnet else 0

    def tri(self, query: Query, keep: Keep, slow: Slow) -> Tri:
        """Whether any kept position's selector matches the query (three-valued, as
        `_any` over match.py's answers); `slow` answers for one position by match.py."""
        if not query.indexed:
            return _scan(range(self.count), keep, slow)
        result: Tri = False
        for key in query.keys:
            if any(keep is None or keep(p) for p in self.keys.get(key, ())):
                return True
        if query.network is None:
            # A name against an address range in the tailnet: whose address it is is unknown.
            if query.in_tailnet and any(keep is None or keep(p) for p in self.tailnet_nets):
                result = None
        else:
            for position, contains in self.nets.overlapping(query.network):
                if keep is None or keep(position):
                    if contains:
                        return True
                    result = None
            if query.in_tailnet and result is False and any(
                    keep is None or keep(p) for p in self.named):
                result = None
        other = _scan(self.others, keep, slow)
        return True if other is True else (None if other is None else result)


def _scan(positions: Iterable[int], keep: Keep, slow: Slow) -> Tri:
    result: Tri = False
    for position in positions:
        if keep is None or keep(position):
            answer = slow(position)
            if answer is True:
                return True
            if answer is None:
                result = None
    return result


def _is_other(selector: str) -> bool:
    return selector in ("*", "autogroup:danger-all") or selector.startswith("autogroup:")


def _name_key(selector: str, model: PolicyModel) -> Key | None:
    """The key a name selector is matched by, in match._match_kind's order; None for
    address ranges and the rest."""
    if _is_other(selector):
        return None
    if selector.startswith("tag:"):
        return ("tag", selector)
    if selector.startswith("group:"):
        return ("group", selector) if selector in model.groups else None
    if "@" not in selector or _network(selector, model) is not None:
        return None
    user = selector.removeprefix("user:").lower()
    return None if user.startswith("*@") else ("user", user)


@dataclass(frozen=True)
class PairIndex:
    """Rules (or grants) with source and destination selectors: all rules' selectors by
    side, to find the rules a query can match, and each rule's own, to match it."""

    sources: Selectors
    targets: Selectors
    rule_sources: tuple[Selectors, ...]
    rule_targets: tuple[Selectors, ...]
    groups_of: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, pairs: Sequence[tuple[Sequence[str], Sequence[str]]],
           model: PolicyModel) -> PairIndex:
        groups_of: dict[str, list[str]] = {}
        for group, members in model.groups.items():
            for member in members:
                groups_of.setdefault(member, []).append(group)
        return cls(
            Selectors.of(((i, s) for i, (src, _) in enumerate(pairs) for s in src), model),
            Selectors.of(((i, d) for i, (_, dst) in enumerate(pairs) for d in dst), model),
            tuple(Selectors.of(enumerate(src), model) for src, _ in pairs),
            tuple(Selectors.of(enumerate(dst), model) for _, dst in pairs),
            {k: tuple(v) for k, v in groups_of.items()},
        )

    def query(self, who: Principal) -> Query:
        return Query.of(who, self.groups_of)

    def candidates(self, who: Query, where: Query) -> list[int] | None:
        """Indices (in order) of the rules that may match who -> where; None: all may."""
        found = self.split(who, where)
        return None if found is None else sorted(set(found[0]).union(found[1]()))

    def split(self, who: Query, where: Query
              ) -> tuple[list[int], Callable[[], list[int]]] | None:
        """The rules that may match who -> where, in order, as (those that may match surely,
        a function giving the others, which match at best undecided); None: any may.
        Looked up on the side with fewer entries; each rule then matches both sides."""
        sides = [(size, side, query) for side, query in ((self.sources, who),
                                                         (self.targets, where))
                 if (size := side.estimate(query)) is not None]
        if not sides:
            return None
        _, side, query = min(sides, key=lambda item: item[0])
        sure = side.sure(query)
        return sorted(sure), lambda: sorted(side.at_most_undecided(query) - sure)


@dataclass(frozen=True)
class Indexes:
    """A policy's network rules and app grants, each indexed by selector."""

    rules: PairIndex
    grants: PairIndex
    # Positions of the grants that also give their destination a companion capability.
    companion_grants: frozenset[int]

    @classmethod
    def of(cls, model: PolicyModel) -> Indexes:
        grants = model.app_grants
        return cls(
            PairIndex.of([(r.src, [t.selector for t in r.targets]) for r in model.rules], model),
            PairIndex.of([(grant.src, grant.dst) for grant in grants], model),
            frozenset(i for i, grant in enumerate(grants)
                      if any(name in _COMPANION_CAPS for name in grant.app)))
