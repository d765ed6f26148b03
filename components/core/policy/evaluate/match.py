"""Who a selector and a posture cover, and whether a source reaches a destination."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from .model import (
    _NOT_TAILNET,
    _ROLE_AUTOGROUPS,
    _TAILNET_RANGES,
    Decision,
    NetRule,
    Network,
    OriginOf,
    PolicyModel,
    Principal,
    Tri,
    _all,
    _any,
    _as_model,
    _norm_proto,
)

if TYPE_CHECKING:
    from .index import PairIndex, Query


def _network(text: str, model: PolicyModel) -> Network | None:
    """The address range a selector or name stands for: a `hosts` alias, an IP or a CIDR."""
    value = model.hosts.get(text, text)
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


_POPULATIONS: Final = {"autogroup:member": "member", "autogroup:tagged": "tagged", "*": "any"}


def principal(name: str, model: PolicyModel) -> Principal:
    """Resolve a test's `src` or a destination host into what selectors are matched against."""
    if name == "autogroup:internet":
        return Principal(name, "internet")
    population = _POPULATIONS.get(name)
    if population == "member":
        return Principal(name, "member")
    if population == "tagged":
        return Principal(name, "tagged")
    if population == "any":
        return Principal(name, "any")
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


def _within_tailnet(network: Network) -> bool:
    """Wholly inside the ranges `*` stands for as a source (the tailnet's device ranges)."""
    if any(network.version == hole.version and network.overlaps(hole) for hole in _NOT_TAILNET):
        return False
    return any(network.version == r.version and network.subnet_of(r)  # type: ignore[arg-type]
               for r in _TAILNET_RANGES)


def _match_source(sel: str, who: Principal, model: PolicyModel, reasons: list[str]) -> Tri:
    """A rule's source selector against `who`. `*` as a source is the tailnet's address
    ranges and its approved subnet routes, not every address (Tailscale's packet filters list
    those ranges as the sources of `*`; headscale testdata grant_results/grant-a1)."""
    if sel == "*" and who.kind == "ip" and who.network is not None:
        if _within_tailnet(who.network):
            return True
        reasons.append(f"`*` as a source covers {who.raw} only through an approved subnet "
                       "route, and routes are not in the policy")
        return None
    return _match_selector(sel, who, model, reasons)


def _match_population(sel: str, who: Principal, model: PolicyModel, reasons: list[str]) -> Tri:
    """A selector against `autogroup:member` (every user's device), `autogroup:tagged` (every
    tagged device) or `*` as a destination: decided where the selector covers all of them or
    none of them; otherwise which devices exist decides, and that is not in the policy."""
    if who.kind == "any":
        reasons.append(f"cannot tell whether {sel} covers every destination")
        return None
    members = who.kind == "member"
    if sel in ("autogroup:member", "autogroup:tagged", "autogroup:internet") or (
        sel.startswith("tag:") and members
    ):
        return False
    if (sel.startswith(("group:", "autogroup:")) or "@" in sel) and not members:
        return False
    network = _network(sel, model)
    if network is not None and not _in_tailnet(network):
        return False
    reasons.append(f"whether {sel} covers {who.raw} depends on the tailnet's devices")
    return None


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
    if who.kind in ("member", "tagged", "any"):
        return _match_population(sel, who, model, reasons)
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
    src = _any([_match_source(s, who, model, reasons) for s in rule.src])
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
    *,
    indexed: bool = True,
) -> Decision:
    """`indexed=False`: match every rule selector by selector, the plain scan that the
    index's answers must equal."""
    index = model.index.rules if indexed else None
    found = None
    if index is not None:
        who_query, where_query = index.query(who), index.query(where)
        found = index.split(who_query, where_query)

    def match(position: int) -> Tri:
        rule = model.rules[position]
        if index is None:
            return _network_match(rule, who, where, port, proto, model, [])
        return _indexed_match(index, position, who_query, where_query, port, proto, model)

    if found is None:
        return _judged(model, range(len(model.rules)), match, who, where, port, proto, attrs)
    sure, others = found
    decision = _judged(model, sure, match, who, where, port, proto, attrs)
    if decision.allowed:
        # The other rules match at best undecided: they cannot add to an allowing answer.
        return decision
    return _judged(model, sorted([*sure, *others()]), match, who, where, port, proto, attrs)


def _judged(model: PolicyModel, positions: Iterable[int], match: Callable[[int], Tri],
            who: Principal, where: Principal, port: int, proto: str,
            attrs: Mapping[str, Any]) -> Decision:
    """The decision from the rules at `positions` (in order); `match(position)` is the rule's
    `_network_match` without reasons."""
    allowing: list[NetRule] = []
    blocked: list[NetRule] = []
    unsure: list[str] = []
    for position in positions:
        rule = model.rules[position]
        network = match(position)
        if network is False:
            continue
        result = _all([network, _posture_met(rule, model, attrs, [])])
        if result is True:
            allowing.append(rule)
        elif result is None:
            # Undecided answers are rare; their reasons come from the plain match.
            reasons: list[str] = []
            _network_match(rule, who, where, port, proto, model, reasons)
            _posture_met(rule, model, attrs, reasons)
            unsure += [f"{rule.label}: {reason}" for reason in dict.fromkeys(reasons)]
        elif network is True:
            blocked.append(rule)
    return _verdict(allowing, blocked, unsure)


def _indexed_match(index: PairIndex, position: int, who: Query, where: Query, port: int,
                   proto: str, model: PolicyModel) -> Tri:
    """`_network_match` (without reasons) through the rule's selector index."""
    rule = model.rules[position]
    src = index.rule_sources[position].tri(
        who, None, lambda p: _match_source(rule.src[p], who.principal, model, []))
    if src is False:
        return False
    targets = rule.targets
    dst = index.rule_targets[position].tri(
        where, lambda p: targets[p].covers(port, proto),
        lambda p: _match_selector(targets[p].selector, where.principal, model, [],
                                  who.principal))
    routed: Tri = None if rule.via and dst is not False else True
    return _all([src, dst, routed])


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
