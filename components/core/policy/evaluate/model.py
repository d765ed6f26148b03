"""The policy's network rules as a model: each rule with its section, index and origin."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, Literal

from ...problems import Problem
from ..sections import section
from ..values import shown

if TYPE_CHECKING:
    from .index import Indexes

Verdict = Literal["allowed", "denied", "undecidable"]
AclsStyle = Literal["legacy", "new", "empty", "mixed"]
OriginOf = Callable[[str, int], str]
Tri = bool | None
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# An acls rule without `proto`, a grant's `ip` entry without one ("443") and `ip: ["*"]` open
# TCP, UDP, ICMP and ICMPv6: Tailscale's packet filters list IP protocols 6, 17, 1, 58 for them
# (headscale testdata captures of Tailscale SaaS, e.g. grant_results/grant-a5).
DEFAULT_PROTOS: Final = frozenset({"tcp", "udp", "icmp", "ipv6-icmp"})
# Tailscale's filter matches ICMP by address only; a rule's ports do not restrict it.
PORTLESS_PROTOS: Final = frozenset({"icmp", "ipv6-icmp"})
ALL_PORTS: Final = ((0, 65535),)
_PROTO_NUMBERS: Final = {"1": "icmp", "6": "tcp", "17": "udp", "58": "ipv6-icmp", "132": "sctp",
                          "icmpv6": "ipv6-icmp"}
# Every tailnet device address is in these ranges (CGNAT and Tailscale's IPv6 ULA).
_TAILNET_RANGES: Final = (
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("fd7a:115c:a1e0::/48"),
)
# Inside 100.64.0.0/10 but left out of what `*` stands for as a source (every capture's
# filter for `*` skips 100.115.92.0/23).
_NOT_TAILNET: Final = (ipaddress.ip_network("100.115.92.0/23"),)
_ROLE_AUTOGROUPS: Final = frozenset(
    {"admin", "owner", "it-admin", "network-admin", "billing-admin", "auditor", "shared"}
)
_SHOW_MAX: Final = 160
# Tailscale gives the destination of these grants a companion capability, without values, on
# the source (headscale testdata grant_results a4, v19: drive from A to B gives B
# drive-sharer on A).
_COMPANION_CAPS: Final = {"tailscale.com/cap/drive": "tailscale.com/cap/drive-sharer",
                          "tailscale.com/cap/relay": "tailscale.com/cap/relay-target"}


def _default_origin(section_name: str, index: int) -> str:
    return "policy"


# -- result types ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """Something about the policy worth saying: a `problem` Tailscale would reject, or a
    `warning` (an undecidable question)."""

    severity: Literal["problem", "warning"]
    section: str
    index: int | None
    message: str
    # The part of the entry meant, e.g. ".dst[0]" (empty: the whole entry).
    part: str = ""

    @property
    def where(self) -> str:
        return self.section if self.index is None else f"{self.section}[{self.index}]{self.part}"

    def render(self) -> str:
        return f"{self.where}: {self.message}"

    def to_problem(self) -> Problem:
        return Problem(key=self.where, message=self.message)


@dataclass(frozen=True)
class Target:
    """One destination selector with the protocols and ports a rule opens on it.
    `protos` None means every IP protocol."""

    selector: str
    protos: frozenset[str] | None
    ports: tuple[tuple[int, int], ...]

    def covers(self, port: int, proto: str) -> bool:
        if self.protos is not None and proto not in self.protos:
            return False
        if proto in PORTLESS_PROTOS:
            return True
        return any(low <= port <= high for low, high in self.ports)


@dataclass(frozen=True)
class NetRule:
    """A network rule from `acls` or from a grant with `ip`, in one shape."""

    section: str
    index: int
    origin: str
    src: tuple[str, ...]
    targets: tuple[Target, ...]
    src_posture: tuple[str, ...] = ()
    via: tuple[str, ...] = ()
    summary: str = ""

    @property
    def label(self) -> str:
        return f"{self.section}[{self.index}] ({self.origin})"


@dataclass(frozen=True)
class AppGrant:
    """A grant with `app`: capability names and their values for src -> dst."""

    index: int
    origin: str
    src: tuple[str, ...]
    dst: tuple[str, ...]
    app: Mapping[str, tuple[Any, ...]]
    src_posture: tuple[str, ...] = ()
    via: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"grants[{self.index}] ({self.origin})"


@dataclass(frozen=True)
class Capabilities:
    """The app capabilities a source holds on a destination: each name with the values of
    every matching grant concatenated, as Tailscale delivers them. `decided` False: some
    grant may or may not apply (`reasons` say why), so `values` may be incomplete."""

    values: Mapping[str, tuple[Any, ...]]
    decided: bool
    grants: tuple[AppGrant, ...] = ()
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """The answer to "may src reach dst:port over proto?".

    `rules` are the rules that allow it; `posture_blocked` the rules that match source,
    destination and port but whose posture the source does not meet; `reasons` says why the
    answer is undecidable, or why access is denied."""

    verdict: Verdict
    rules: tuple[NetRule, ...] = ()
    reasons: tuple[str, ...] = ()
    posture_blocked: tuple[NetRule, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.verdict == "allowed"


@dataclass(frozen=True)
class FailedAssertion:
    """One `accept` or `deny` entry of a test that Tailscale would report as failing."""

    test_index: int
    src: str
    kind: Literal["accept", "deny"]
    dst: str
    proto: str
    reason: str
    rules: tuple[NetRule, ...] = ()

    def render(self) -> str:
        text = f"tests[{self.test_index}]: {self.src} {self.kind} {self.dst} ({self.proto}) "
        return text + f"fails: {self.reason}"


@dataclass(frozen=True)
class TestReport:
    """What running a policy's `tests` gives: failures Tailscale would reject the policy for,
    warnings for assertions this module cannot decide, and problems with the policy itself."""

    __test__ = False  # not a pytest test class

    failures: tuple[FailedAssertion, ...] = ()
    warnings: tuple[Finding, ...] = ()
    problems: tuple[Finding, ...] = ()
    passed: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures and not self.problems

    def render(self) -> str:
        lines = [f.render() for f in self.failures]
        lines += [f"problem: {p.render()}" for p in self.problems]
        lines += [f"warning: {w.render()}" for w in self.warnings]
        return "\n".join(lines)


@dataclass(frozen=True)
class Reach:
    """A source selector that reaches a tag through `rule`, by the destination selector
    `via`. `certain` is False when the coverage is undecidable (an IP range, a `via` grant);
    postures are in `rule.src_posture`."""

    selector: str
    rule: NetRule
    via: str
    certain: bool


@dataclass(frozen=True)
class Principal:
    """A test's source or destination: a user, a group member, a tag, an address, the
    internet, or something unresolvable."""

    raw: str
    kind: Literal["user", "group", "tag", "ip", "internet", "member", "tagged", "any", "unknown"]
    users: tuple[str, ...] = ()
    network: Network | None = None


@dataclass(frozen=True)
class PolicyModel:
    """A policy's network rules and the maps the selectors refer to."""

    rules: tuple[NetRule, ...]
    findings: tuple[Finding, ...]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    hosts: Mapping[str, str] = field(default_factory=dict)
    postures: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # The tags `tagOwners` defines; None when the policy has no tagOwners section.
    tags: frozenset[str] | None = None
    app_grants: tuple[AppGrant, ...] = ()

    @cached_property
    def index(self) -> Indexes:
        """`rules` and `app_grants` by selector: a query reads only those that can match."""
        from .index import Indexes

        return Indexes.of(self)


# -- three-valued logic ----------------------------------------------------------------------


def _any(values: Iterable[Tri]) -> Tri:
    seen = list(values)
    if True in seen:
        return True
    return None if None in seen else False


def _all(values: Iterable[Tri]) -> Tri:
    seen = list(values)
    if False in seen:
        return False
    return None if None in seen else True


# -- parsing the rules -----------------------------------------------------------------------


def _strings(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def _norm_proto(proto: str) -> str:
    lowered = proto.strip().lower()
    return _PROTO_NUMBERS.get(lowered, lowered)


def _parse_ports(text: str) -> tuple[tuple[int, int], ...] | None:
    """`*`, `443`, `80,443`, `1000-2000`; None when malformed."""
    if text == "*":
        return ALL_PORTS
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            return None
        first, last = int(low), int(high) if dash else int(low)
        if first > last or last > 65535:
            return None
        ranges.append((first, last))
    return tuple(ranges)


def _split_host_port(text: str) -> tuple[str, str] | None:
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        return (host, rest[1:]) if bracket and rest.startswith(":") and host else None
    host, colon, ports = text.rpartition(":")
    return (host, ports) if colon and host and ports else None


def _acl_targets(
    dsts: Sequence[str], protos: frozenset[str] | None, where: Finding
) -> tuple[list[Target], list[Finding]]:
    targets: list[Target] = []
    problems: list[Finding] = []
    for dst in dsts:
        split = _split_host_port(dst)
        ports = _parse_ports(split[1]) if split else None
        if split is None or ports is None:
            problems.append(_problem(where, f"destination {dst!r} is not host:port"))
            continue
        targets.append(Target(split[0], protos, ports))
    return targets, problems


def _problem(where: Finding, message: str) -> Finding:
    return Finding("problem", where.section, where.index, message)


def _field(entry: Mapping[str, Any], *names: str) -> Any:
    """The first of `names` that `entry` has, ignoring key case (Go struct fields)."""
    for name in names:
        value = section(entry, name)
        if value is not None:
            return value
    return None


def _rule_posture(entry: Mapping[str, Any], default: tuple[str, ...]) -> tuple[str, ...] | None:
    own = section(entry, "srcPosture")
    if own is None:
        return default
    return _strings(own)


def _acl_rule(
    entry: Any, index: int, origin: str, default_posture: tuple[str, ...]
) -> tuple[NetRule | None, list[Finding]]:
    where = Finding("problem", "acls", index, "")
    if not isinstance(entry, Mapping):
        return None, [_problem(where, "an acls entry must be an object")]
    action = section(entry, "action")
    if not isinstance(action, str) or action.lower() != "accept":
        return None, [_problem(where, f"action must be 'accept', not {action!r}")]
    src = _strings(_merged_list(entry, "src", "users"))
    dst = _strings(_merged_list(entry, "dst", "ports"))
    posture = _rule_posture(entry, default_posture)
    if not src or not dst or posture is None:
        return None, [_problem(where, "needs lists of strings src/dst (or users/ports)")]
    proto = section(entry, "proto")
    protos = DEFAULT_PROTOS if proto is None else frozenset({_norm_proto(str(proto))})
    targets, problems = _acl_targets(dst, protos, where)
    rule = NetRule("acls", index, origin, src, tuple(targets), posture, (), _summary(entry))
    return rule, problems


def _merged_list(entry: Mapping[str, Any], new: str, legacy: str) -> Any:
    first, second = section(entry, new), section(entry, legacy)
    if first is None or second is None:
        return first if second is None else second
    return first + second if isinstance(first, list) and isinstance(second, list) else None


def _summary(entry: Mapping[str, Any]) -> str:
    return shown(entry, _SHOW_MAX)


def _parse_ip(selector: str) -> tuple[frozenset[str] | None, tuple[tuple[int, int], ...]] | None:
    """A grant `ip` entry: `*`, `443`, `tcp:443`, `udp:53`, `tcp:80-90`, `tcp:*`."""
    if selector == "*":
        return DEFAULT_PROTOS, ALL_PORTS
    proto, colon, ports_text = selector.rpartition(":")
    protos = frozenset({_norm_proto(proto)}) if colon else DEFAULT_PROTOS
    if colon and not proto:
        return None
    ports = _parse_ports(ports_text)
    return None if ports is None else (protos, ports)


def _grant_rule(
    entry: Any, index: int, origin: str, default_posture: tuple[str, ...]
) -> tuple[NetRule | None, list[Finding]]:
    where = Finding("problem", "grants", index, "")
    if not isinstance(entry, Mapping):
        return None, [_problem(where, "a grants entry must be an object")]
    ip = section(entry, "ip")
    if not ip:
        # An app-only grant gives no network access (it needs access from another rule);
        # one with neither is refused by `refusals`.
        return None, []
    src, dst, ips = _strings(section(entry, "src")), _strings(section(entry, "dst")), _strings(ip)
    posture = _rule_posture(entry, default_posture)
    via = _strings(section(entry, "via") or [])
    if not src or not dst or ips is None or posture is None or via is None:
        return None, [_problem(where, "needs lists of strings src, dst and ip")]
    targets, problems = _grant_targets(dst, ips, where)
    rule = NetRule("grants", index, origin, src, tuple(targets), posture, via, _summary(entry))
    return rule, problems


def _grant_targets(
    dsts: Sequence[str], ips: Sequence[str], where: Finding
) -> tuple[list[Target], list[Finding]]:
    targets: list[Target] = []
    problems: list[Finding] = []
    for selector in ips:
        parsed = _parse_ip(selector)
        if parsed is None:
            problems.append(_problem(where, f"ip selector {selector!r} is not understood"))
            continue
        targets += [Target(dst, parsed[0], parsed[1]) for dst in dsts]
    return targets, problems


def _section_list(policy: Mapping[str, Any], name: str) -> tuple[list[Any], list[Finding]]:
    value = section(policy, name)
    if value is None:
        return [], []
    if not isinstance(value, list):
        return [], [Finding("problem", name, None, f"{name} must be a list")]
    return value, []


def _string_map(policy: Mapping[str, Any], name: str) -> dict[str, tuple[str, ...]]:
    value = section(policy, name)
    if not isinstance(value, Mapping):
        return {}
    return {key: items for key, raw in value.items() if (items := _strings(raw)) is not None}


def _hosts(policy: Mapping[str, Any]) -> dict[str, str]:
    value = section(policy, "hosts")
    if not isinstance(value, Mapping):
        return {}
    return {key: raw for key, raw in value.items() if isinstance(raw, str)}


def build_model(policy: Mapping[str, Any], origin_of: OriginOf | None = None, *,
                strict_tags: bool = False) -> PolicyModel:
    """Normalise a policy's network rules; malformed rules become findings, never errors.
    `strict_tags`: tags missing from `tagOwners` are problems too (as the API has them)."""
    origin = origin_of or _default_origin
    default_posture = _strings(section(policy, "defaultSrcPosture") or []) or ()
    rules: list[NetRule] = []
    findings: list[Finding] = []
    builders = (("acls", _acl_rule), ("grants", _grant_rule))
    for name, builder in builders:
        entries, problems = _section_list(policy, name)
        findings += problems
        for index, entry in enumerate(entries):
            rule, problems = builder(entry, index, origin(name, index), default_posture)
            findings += problems
            if rule is not None:
                rules.append(rule)
    groups = {k: tuple(m.lower() for m in v) for k, v in _string_map(policy, "groups").items()}
    owners = section(policy, "tagOwners")
    tags = frozenset(owners) if isinstance(owners, Mapping) else None
    from .validate import refusals  # validate reads the model's parsing helpers

    findings += refusals(policy, undefined_tags=strict_tags)
    return PolicyModel(
        tuple(rules), tuple(findings), groups, _hosts(policy), _string_map(policy, "postures"),
        tags, tuple(_app_grants(policy, origin, default_posture)),
    )


def _app_grants(policy: Mapping[str, Any], origin: OriginOf,
                default_posture: tuple[str, ...]) -> list[AppGrant]:
    entries, _ = _section_list(policy, "grants")
    found: list[AppGrant] = []
    for index, entry in enumerate(entries):
        app = section(entry, "app") if isinstance(entry, Mapping) else None
        src, dst = (_strings(section(entry, key)) for key in ("src", "dst")) if isinstance(
            entry, Mapping) else (None, None)
        if not isinstance(app, Mapping) or not src or not dst:
            continue
        values = {str(name): tuple(v) if isinstance(v, list) else (v,) for name, v in app.items()}
        posture = _rule_posture(entry, default_posture) or ()
        via = _strings(section(entry, "via") or []) or ()
        found.append(AppGrant(index, origin("grants", index), src, dst, values, posture, via))
    return found


def _as_model(policy: Mapping[str, Any] | PolicyModel, origin_of: OriginOf | None) -> PolicyModel:
    return policy if isinstance(policy, PolicyModel) else build_model(policy, origin_of)


# -- principals and selectors ----------------------------------------------------------------


