"""Offline evaluation of a tailnet policy's network rules and of its `tests` section.

Tailscale rejects every write of a policy whose `tests` fail, and `pulumi-tailscale` only finds
out at `pulumi up`. This module answers the same questions locally: which rules let a source
reach a destination port (`reachable`), whether the policy's own tests pass (`run_tests`), who
can reach a tag on a port (`who_reaches`), and which `acls` syntax a policy uses
(`acls_style`, `check_syntax_mix`).

Model. Network access comes from `acls` (new `src`/`dst` and legacy `users`/`ports` syntax)
and from `grants` that have `ip`; a grant with only `app` gives no network access. Access is
the union of all rules. Keys are matched without regard to case, as Tailscale's Go parser
does (`"ACLs"`, `"Src"`). Each rule keeps its section, index and an `origin` label from the
caller's `origin_of(section, index)` callback, so a failure can say whose rule it was.

Three-valued answers. Every match is True, False or undecidable (None). A rule that allows
wins; otherwise any undecidable rule makes the whole answer undecidable, never a silent pass
or fail. Undecidable are:

- role autogroups (`autogroup:admin`, `:owner`, `:it-admin`, `:network-admin`,
  `:billing-admin`, `:auditor`) and `autogroup:shared` for a user: roles are not in the policy;
- IP addresses and CIDRs (and `hosts` aliases) against users or tags, when the range overlaps
  the tailnet's address ranges: which device holds which address is not in the policy
  (decidable when the test's src/dst is an address too, and for ranges outside the tailnet);
- `ipset:`, `svc:` and other selectors this module does not know; undefined groups;
- grants with `via` (they depend on routing);
- posture conditions with an operator or value this module does not parse, ordering
  comparisons of non-version strings, and undefined postures.

Postures: a rule's `srcPosture` (or, for a rule without one, `defaultSrcPosture`) is met when
the source satisfies at least one listed posture, and a posture holds when all its conditions
hold (kb/1288 device posture: postures are lists of conditions; srcPosture lists alternatives).
A condition on an attribute the source does not have is false.

Limits that are assumptions, not decisions: a test without `proto` is evaluated for TCP
(UNVERIFIED against the docs, which leave the default implicit); a `group:` test source
stands for "a member of the group" (a rule matches when it names the group, or matches any
member); `*` as a destination includes `autogroup:internet`, as the default allow-all policy
allows exit nodes. SSH rules and `sshTests` are not evaluated.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ..problems import Problem
from .sections import section
from .values import shown

__all__ = [
    "AclsStyle",
    "Decision",
    "FailedAssertion",
    "Finding",
    "NetRule",
    "PolicyModel",
    "Principal",
    "Reach",
    "Target",
    "TestReport",
    "Verdict",
    "acls_style",
    "build_model",
    "check_syntax_mix",
    "principal",
    "reachable",
    "run_tests",
    "who_reaches",
]

Verdict = Literal["allowed", "denied", "undecidable"]
AclsStyle = Literal["legacy", "new", "empty", "mixed"]
OriginOf = Callable[[str, int], str]
Tri = bool | None
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# kb/1337: an acls rule without `proto` allows TCP, UDP and ICMP; grants' `ip` entries
# without a protocol ("443") are read the same way.
DEFAULT_PROTOS: Final = frozenset({"tcp", "udp", "icmp"})
ALL_PORTS: Final = ((0, 65535),)
_PROTO_NUMBERS: Final = {"1": "icmp", "6": "tcp", "17": "udp", "58": "ipv6-icmp", "132": "sctp"}
# Every tailnet device address is in these ranges (CGNAT and Tailscale's IPv6 ULA).
_TAILNET_RANGES: Final = (
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("fd7a:115c:a1e0::/48"),
)
_ROLE_AUTOGROUPS: Final = frozenset(
    {"admin", "owner", "it-admin", "network-admin", "billing-admin", "auditor", "shared"}
)
_SHOW_MAX: Final = 160


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

    @property
    def where(self) -> str:
        return self.section if self.index is None else f"{self.section}[{self.index}]"

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
    kind: Literal["user", "group", "tag", "ip", "internet", "unknown"]
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
        return None, ALL_PORTS
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
    ip, app = section(entry, "ip"), section(entry, "app")
    if ip is None:
        # An app-only grant gives no network access (it needs access from another rule).
        return None, [] if app is not None else [_problem(where, "a grant needs ip or app")]
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


def build_model(policy: Mapping[str, Any], origin_of: OriginOf | None = None) -> PolicyModel:
    """Normalise a policy's network rules; malformed rules become findings, never errors."""
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
    return PolicyModel(
        tuple(rules), tuple(findings), groups, _hosts(policy), _string_map(policy, "postures")
    )


def _as_model(policy: Mapping[str, Any] | PolicyModel, origin_of: OriginOf | None) -> PolicyModel:
    return policy if isinstance(policy, PolicyModel) else build_model(policy, origin_of)


# -- principals and selectors ----------------------------------------------------------------


def _network(text: str, model: PolicyModel) -> Network | None:
    """The address range a selector or name stands for: a `hosts` alias, an IP or a CIDR."""
    value = model.hosts.get(text, text)
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def principal(name: str, model: PolicyModel) -> Principal:
    """Resolve a test's `src` or a destination host into what selectors are matched against."""
    if name == "autogroup:internet":
        return Principal(name, "internet")
    if name.startswith("tag:"):
        return Principal(name, "tag")
    if name.startswith("group:"):
        members = model.groups.get(name)
        return Principal(name, "unknown") if members is None else Principal(name, "group", members)
    network = _network(name, model)
    if network is not None:
        return Principal(name, "ip", network=network)
    if "@" in name:
        return Principal(name, "user", (name.removeprefix("user:").lower(),))
    return Principal(name, "unknown")


def _in_tailnet(network: Network) -> bool:
    return any(network.version == r.version and network.overlaps(r) for r in _TAILNET_RANGES)


def _device_by_address(who: Principal, what: str, reasons: list[str]) -> Tri:
    """A user, tag or group selector against an address: undecidable inside the tailnet."""
    if who.network is not None and _in_tailnet(who.network):
        reasons.append(f"cannot tell whether {who.raw} is a device of {what}")
        return None
    return False


def _match_network(net: Network, who: Principal, reasons: list[str]) -> Tri:
    if who.kind == "ip" and who.network is not None:
        if who.network.version != net.version:
            return False
        if who.network.network_address in net and who.network.broadcast_address in net:
            return True
        if not who.network.overlaps(net):
            return False
        reasons.append(f"{who.raw} only partly lies in {net}")
        return None
    if who.kind in ("user", "tag", "group") and _in_tailnet(net):
        reasons.append(f"cannot tell whether {who.raw} has an address in {net}")
        return None
    if who.kind == "internet":
        reasons.append(f"cannot tell whether internet traffic goes to {net}")
        return None
    return False


def _match_user(sel: str, who: Principal, reasons: list[str]) -> Tri:
    if who.kind == "ip":
        return _device_by_address(who, sel, reasons)
    if who.kind != "user":
        return False
    user = who.users[0]
    wanted = sel.removeprefix("user:").lower()
    if wanted.startswith("*@"):  # kb/1337: user:*@<domain> is every user of that domain
        return user.endswith(wanted[1:])
    return user == wanted


def _match_tag(sel: str, who: Principal, reasons: list[str]) -> Tri:
    if who.kind == "tag":
        return who.raw == sel
    if who.kind == "ip":
        return _device_by_address(who, sel, reasons)
    return False


def _match_group(sel: str, who: Principal, model: PolicyModel, reasons: list[str]) -> Tri:
    members = model.groups.get(sel)
    if members is None:
        reasons.append(f"{sel} is not defined in groups")
        return None
    if who.kind == "user":
        return who.users[0] in members
    if who.kind == "ip":
        return _device_by_address(who, sel, reasons)
    return False


def _match_autogroup(sel: str, who: Principal, peer: Principal | None, reasons: list[str]) -> Tri:
    name = sel.removeprefix("autogroup:")
    if name == "internet":
        return who.kind == "internet"
    if who.kind == "ip":
        return _device_by_address(who, sel, reasons)
    if name == "member":
        return who.kind == "user"
    if name == "tagged":
        return who.kind == "tag"
    if name == "self":
        return _match_self(who, peer, reasons)
    if name in _ROLE_AUTOGROUPS and who.kind == "user":
        reasons.append(f"{sel} depends on user roles, which the policy does not hold")
        return None
    if name in _ROLE_AUTOGROUPS:
        return False
    reasons.append(f"{sel} is not understood as a source or destination")
    return None


def _match_self(who: Principal, peer: Principal | None, reasons: list[str]) -> Tri:
    if who.kind != "user":
        return False
    if peer is not None and peer.kind == "user":
        return peer.users == who.users
    reasons.append(f"autogroup:self depends on who owns {who.raw}")
    return None


def _match_selector(
    sel: str, who: Principal, model: PolicyModel, reasons: list[str], peer: Principal | None = None
) -> Tri:
    """Whether rule selector `sel` includes `who` (True, False, or None: undecidable)."""
    if sel in ("*", "autogroup:danger-all") or sel == who.raw:
        return True
    if who.kind == "group":
        if sel == "autogroup:member":
            return True
        members = [Principal(m, "user", (m,)) for m in who.users]
        return _any(_match_selector(sel, m, model, reasons, peer) for m in members)
    if who.kind == "unknown":
        reasons.append(f"cannot resolve {who.raw!r}")
        return None
    return _match_kind(sel, who, model, reasons, peer)


def _match_kind(
    sel: str, who: Principal, model: PolicyModel, reasons: list[str], peer: Principal | None
) -> Tri:
    if sel.startswith("autogroup:"):
        return _match_autogroup(sel, who, peer, reasons)
    if sel.startswith("tag:"):
        return _match_tag(sel, who, reasons)
    if sel.startswith("group:"):
        return _match_group(sel, who, model, reasons)
    network = _network(sel, model)
    if network is not None:
        return _match_network(network, who, reasons)
    if "@" in sel:
        return _match_user(sel, who, reasons)
    reasons.append(f"selector {sel!r} is not understood")
    return None


# -- postures --------------------------------------------------------------------------------

_ATTRIBUTE = re.compile(r"\s*([A-Za-z][A-Za-z0-9_-]*:[A-Za-z0-9_.-]+)")
_OPERATORS: Final = ("==", "!=", ">=", "<=", ">", "<")
_IN = re.compile(r"(?i)(not\s+in|in)\s*(\[.*\])\s*$")
_VERSION = re.compile(r"^\d+(\.\d+)*")


def _literal(text: str) -> tuple[bool, Any]:
    """A condition's right-hand side: 'quoted', "quoted", a number, true/false, or a list."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return True, text[1:-1]
    if text in ("true", "false"):
        return True, text == "true"
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return True, float(text)
    if text.startswith("[") and text.endswith("]"):
        items = [_literal(item) for item in text[1:-1].split(",") if item.strip()]
        return all(ok for ok, _ in items), [value for _, value in items]
    return False, None


def _version(value: Any) -> tuple[int, ...] | None:
    match = _VERSION.match(value) if isinstance(value, str) else None
    return tuple(int(part) for part in match.group(0).split(".")) if match else None


def _ordered(op: str, left: Any, right: Any) -> Tri:
    if isinstance(left, int | float) and isinstance(right, int | float):
        pair: tuple[Any, Any] = (float(left), float(right))
    else:
        lv, rv = _version(left), _version(right)
        if lv is None or rv is None:
            return None
        width = max(len(lv), len(rv))
        pair = (lv + (0,) * (width - len(lv)), rv + (0,) * (width - len(rv)))
    a, b = pair
    results = {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}
    return bool(results[op])


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, int | float) and not isinstance(left, bool):
        return isinstance(right, float) and float(left) == right
    return bool(left == right)


def _compare(op: str, actual: Any, expected: Any) -> Tri:
    if op == "==":
        return _equal(actual, expected)
    if op == "!=":
        return not _equal(actual, expected)
    return _ordered(op, actual, expected)


def _condition(text: str, attrs: Mapping[str, Any], reasons: list[str]) -> Tri:
    """One posture condition against the source's attributes (missing attribute: false)."""
    head = _ATTRIBUTE.match(text)
    if head is None:
        reasons.append(f"posture condition {text!r} is not understood")
        return None
    attr, rest = head.group(1), text[head.end() :].strip()
    present, actual = attr in attrs, attrs.get(attr)
    verb = " ".join(rest.lower().split())
    if verb in ("", "is set", "not is set", "is not set"):
        return {"": actual is True, "is set": present}.get(verb, not present)
    result = _operator_condition(rest, actual, present) if present else False
    if result is None:
        reasons.append(f"posture condition {text!r} cannot be evaluated")
    return result


def _operator_condition(rest: str, actual: Any, present: bool) -> Tri:
    within = _IN.match(rest)
    if within:
        ok, values = _literal(within.group(2))
        if not ok:
            return None
        inside = any(_equal(actual, value) for value in values)
        return inside if within.group(1).lower() == "in" else not inside
    for op in _OPERATORS:
        if rest.startswith(op):
            ok, expected = _literal(rest[len(op) :])
            return _compare(op, actual, expected) if ok else None
    return None


def _posture_holds(
    name: str, model: PolicyModel, attrs: Mapping[str, Any], reasons: list[str]
) -> Tri:
    conditions = model.postures.get(name)
    if conditions is None:
        reasons.append(f"{name} is not defined in postures")
        return None
    return _all([_condition(c, attrs, reasons) for c in conditions])


def _posture_met(
    rule: NetRule, model: PolicyModel, attrs: Mapping[str, Any], reasons: list[str]
) -> Tri:
    if not rule.src_posture:
        return True
    # srcPosture lists alternatives: meeting any one posture is enough (kb/1288).
    return _any([_posture_holds(name, model, attrs, reasons) for name in rule.src_posture])


# -- reachability ----------------------------------------------------------------------------


def _network_match(
    rule: NetRule,
    who: Principal,
    where: Principal,
    port: int,
    proto: str,
    model: PolicyModel,
    reasons: list[str],
) -> Tri:
    """Whether `rule` covers who -> where:port/proto, postures aside."""
    targets = [t for t in rule.targets if t.covers(port, proto)]
    if not targets:
        return False
    src = _any([_match_selector(s, who, model, reasons) for s in rule.src])
    if src is False:
        return False
    dst = _any([_match_selector(t.selector, where, model, reasons, who) for t in targets])
    routed: Tri = True
    if rule.via and dst is not False:
        reasons.append(f"the grant applies only via {', '.join(rule.via)} (depends on routing)")
        routed = None
    return _all([src, dst, routed])


def _decide(
    model: PolicyModel,
    who: Principal,
    where: Principal,
    port: int,
    proto: str,
    attrs: Mapping[str, Any],
) -> Decision:
    allowing: list[NetRule] = []
    blocked: list[NetRule] = []
    unsure: list[str] = []
    for rule in model.rules:
        reasons: list[str] = []
        network = _network_match(rule, who, where, port, proto, model, reasons)
        if network is False:
            continue
        posture = _posture_met(rule, model, attrs, reasons)
        result = _all([network, posture])
        if result is True:
            allowing.append(rule)
        elif result is None:
            unsure += [f"{rule.label}: {reason}" for reason in dict.fromkeys(reasons)]
        elif network is True:
            blocked.append(rule)
    return _verdict(allowing, blocked, unsure)


def _verdict(allowing: list[NetRule], blocked: list[NetRule], unsure: list[str]) -> Decision:
    if allowing:
        return Decision("allowed", tuple(allowing))
    if unsure:
        return Decision("undecidable", (), tuple(unsure), tuple(blocked))
    if blocked:
        labels = ", ".join(rule.label for rule in blocked)
        return Decision("denied", (), (f"posture not met for {labels}",), tuple(blocked))
    return Decision("denied", (), ("no rule matched",))


def reachable(
    policy: Mapping[str, Any] | PolicyModel,
    src: str,
    dst: str,
    port: int,
    proto: str = "tcp",
    posture_attrs: Mapping[str, Any] | None = None,
    *,
    origin_of: OriginOf | None = None,
) -> Decision:
    """May `src` (one identity, as a test's src) reach host `dst` on `port` over `proto`?

    `dst` is a host without port: `tag:k8s`, a `hosts` alias, an IP, a user. Postures are
    evaluated against `posture_attrs` (as a test's `srcPostureAttrs`); without them, rules
    with a posture do not apply. See the module docstring for what is undecidable."""
    model = _as_model(policy, origin_of)
    who, where = principal(src, model), principal(dst, model)
    return _decide(model, who, where, port, _norm_proto(proto), posture_attrs or {})


# -- the tests section -----------------------------------------------------------------------


@dataclass
class _Collector:
    failures: list[FailedAssertion] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    passed: int = 0

    def report(self) -> TestReport:
        return TestReport(
            tuple(self.failures), tuple(self.warnings), tuple(self.problems), self.passed
        )


@dataclass(frozen=True)
class _Test:
    index: int
    src: str
    proto: str
    attrs: Mapping[str, Any]
    assertions: tuple[tuple[Literal["accept", "deny"], str], ...]


def _parse_test(entry: Any, index: int) -> _Test | str:
    """A tests entry, or why it is malformed."""
    if not isinstance(entry, Mapping):
        return "a tests entry must be an object"
    src, proto = section(entry, "src"), section(entry, "proto") or "tcp"
    attrs = section(entry, "srcPostureAttrs") or {}
    accept = _strings(section(entry, "accept") or [])
    deny = _strings(section(entry, "deny") or [])
    if not isinstance(src, str) or not isinstance(proto, str) or not isinstance(attrs, Mapping):
        return "needs a string src, an optional string proto and an srcPostureAttrs object"
    if accept is None or deny is None:
        return "accept and deny must be lists of host:port strings"
    assertions: list[tuple[Literal["accept", "deny"], str]] = [("accept", d) for d in accept]
    assertions += [("deny", d) for d in deny]
    return _Test(index, src, _norm_proto(proto), attrs, tuple(assertions))


def _assertion_target(dst: str) -> tuple[str, int] | None:
    split = _split_host_port(dst)
    if split is None or not split[1].isdigit() or int(split[1]) > 65535:
        return None
    return split[0], int(split[1])


def _judge(
    test: _Test, kind: Literal["accept", "deny"], dst: str, decision: Decision, out: _Collector
) -> None:
    if decision.verdict == "undecidable":
        message = f"{test.src} {kind} {dst} ({test.proto}) is undecidable: "
        out.warnings.append(
            Finding("warning", "tests", test.index, message + "; ".join(decision.reasons))
        )
    elif decision.allowed == (kind == "accept"):
        out.passed += 1
    elif kind == "deny":
        labels = ", ".join(f"{r.label} {r.summary}" for r in decision.rules)
        reason = f"allowed by {labels}"
        out.failures.append(
            FailedAssertion(test.index, test.src, kind, dst, test.proto, reason, decision.rules)
        )
    else:
        reason = "; ".join(decision.reasons)
        out.failures.append(
            FailedAssertion(
                test.index, test.src, kind, dst, test.proto, reason, decision.posture_blocked
            )
        )


def _run_test(model: PolicyModel, test: _Test, out: _Collector) -> None:
    who = principal(test.src, model)
    for kind, dst in test.assertions:
        target = _assertion_target(dst)
        if target is None:
            out.problems.append(
                Finding(
                    "problem", "tests", test.index, f"{kind} {dst!r} is not host:port (one port)"
                )
            )
            continue
        where = principal(target[0], model)
        decision = _decide(model, who, where, target[1], test.proto, test.attrs)
        _judge(test, kind, dst, decision, out)


def run_tests(policy: Mapping[str, Any], origin_of: OriginOf | None = None) -> TestReport:
    """Run every entry of the policy's `tests` as Tailscale does on each write.

    A test counts `acls` and grants with `ip`. An `accept` passes when some rule allows the
    traffic, a `deny` when none does. Undecidable assertions become warnings, never passes;
    malformed tests and rules become problems."""
    model = build_model(policy, origin_of)
    out = _Collector(problems=list(model.findings))
    out.problems += check_syntax_mix(policy)
    entries, problems = _section_list(policy, "tests")
    out.problems += problems
    for index, entry in enumerate(entries):
        test = _parse_test(entry, index)
        if isinstance(test, str):
            out.problems.append(Finding("problem", "tests", index, test))
        else:
            _run_test(model, test, out)
    return out.report()


# -- acls syntax -----------------------------------------------------------------------------


def _acl_styles(policy: Mapping[str, Any]) -> tuple[list[int], list[int]]:
    """Indices of legacy (users/ports) and of new-style (src/dst) acls entries."""
    entries, _ = _section_list(policy, "acls")
    legacy: list[int] = []
    new: list[int] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            continue
        if section(entry, "users") is not None or section(entry, "ports") is not None:
            legacy.append(index)
        if section(entry, "src") is not None or section(entry, "dst") is not None:
            new.append(index)
    return legacy, new


def acls_style(policy: Mapping[str, Any]) -> AclsStyle:
    """The syntax of the policy's `acls`, so that added rules can be written in the same one:
    "empty" when there are none, "mixed" when Tailscale would reject the list."""
    legacy, new = _acl_styles(policy)
    if legacy and new:
        return "mixed"
    if legacy:
        return "legacy"
    return "new" if new else "empty"


def check_syntax_mix(policy: Mapping[str, Any]) -> list[Finding]:
    """A problem when `acls` mixes legacy users/ports with src/dst entries: the API answers
    400 "ACLs contain a mix of old-style users/ports and new-style src/dst"."""
    legacy, new = _acl_styles(policy)
    if not (legacy and new):
        return []
    message = (
        f"acls mix old-style users/ports (entries {_indices(legacy)}) with new-style src/dst "
        f"(entries {_indices(new)}); Tailscale rejects such a policy"
    )
    return [Finding("problem", "acls", None, message)]


def _indices(indices: Sequence[int]) -> str:
    return ", ".join(str(i) for i in indices)


# -- who reaches a tag -----------------------------------------------------------------------


def who_reaches(
    policy: Mapping[str, Any] | PolicyModel,
    dst_tag: str,
    port: int,
    proto: str = "tcp",
    *,
    origin_of: OriginOf | None = None,
) -> list[Reach]:
    """Every (source selector, rule) that opens `dst_tag` on `port`/`proto`, postures aside.

    Used to warn that a base policy already gives some source access to an endpoint beyond
    what a stack adds: filter the answer by `rule.origin`. Coverage by IP ranges or `via`
    grants is reported with `certain=False`."""
    model = _as_model(policy, origin_of)
    tag = dst_tag if dst_tag.startswith("tag:") else f"tag:{dst_tag}"
    where = Principal(tag, "tag")
    reaches: list[Reach] = []
    for rule in model.rules:
        covered = _covering(rule, where, port, _norm_proto(proto), model)
        if covered is not None:
            via, certain = covered
            reaches += [Reach(sel, rule, via, certain and not rule.via) for sel in rule.src]
    return reaches


def _covering(
    rule: NetRule, where: Principal, port: int, proto: str, model: PolicyModel
) -> tuple[str, bool] | None:
    """The destination selector of `rule` that covers `where`, and whether surely."""
    maybe: str | None = None
    for target in rule.targets:
        if not target.covers(port, proto):
            continue
        match = _match_selector(target.selector, where, model, [])
        if match is True:
            return target.selector, True
        if match is None and maybe is None:
            maybe = target.selector
    return None if maybe is None else (maybe, False)
