"""Who a selector and a posture cover, and whether a source reaches a destination."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, Final

from .model import (
    _NOT_TAILNET,
    _ROLE_AUTOGROUPS,
    _TAILNET_RANGES,
    AppGrant,
    Capabilities,
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
) -> Decision:
    allowing: list[NetRule] = []
    blocked: list[NetRule] = []
    unsure: list[str] = []
    indices = model.source_index.candidates(who, where)
    rules = model.rules if indices is None else [model.rules[i] for i in indices]
    for rule in rules:
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




# -- app capabilities ------------------------------------------------------------------------

# Tailscale gives the destination of these grants a companion capability, without values, on
# the source (headscale testdata grant_results a4, v19: drive from A to B gives B
# drive-sharer on A).
_COMPANION_CAPS: Final = {"tailscale.com/cap/drive": "tailscale.com/cap/drive-sharer",
                          "tailscale.com/cap/relay": "tailscale.com/cap/relay-target"}


def capabilities(
    policy: Mapping[str, Any] | PolicyModel,
    src: str,
    dst: str,
    *,
    origin_of: OriginOf | None = None,
) -> Capabilities:
    """The app capabilities `src` (one identity) holds on `dst` (a tag, user, host or IP):
    every grant whose src and dst cover them adds its values, concatenated per capability
    name (Tailscale's capability grants, headscale testdata grant_results). A grant that
    may apply (an address range, a posture, `via`) makes the answer undecided."""
    model = _as_model(policy, origin_of)
    who, where = principal(src, model), principal(dst, model)
    values: dict[str, list[Any]] = {}
    matched: list[AppGrant] = []
    unsure: list[str] = []
    for grant in model.app_grants:
        reasons: list[str] = []
        source = _any([_match_source(s, who, model, reasons) for s in grant.src])
        target = _any([_match_selector(d, where, model, reasons, who) for d in grant.dst])
        conditional: Tri = True
        if grant.src_posture or grant.via:
            reasons.append("the grant has a posture or via, which the query does not decide")
            conditional = None
        result = _all([source, target, conditional])
        if result is True:
            matched.append(grant)
            for name, items in grant.app.items():
                values.setdefault(name, []).extend(items)

        elif result is None:
            unsure += [f"{grant.label}: {reason}" for reason in dict.fromkeys(reasons)]
        companions = [_COMPANION_CAPS[name] for name in grant.app if name in _COMPANION_CAPS]
        if companions and _grant_applies(grant, where, who, model, []) is True:
            for name in companions:
                values.setdefault(name, [])
    return Capabilities({k: tuple(v) for k, v in values.items()}, not unsure, tuple(matched),
                        tuple(unsure))


def _grant_applies(grant: AppGrant, who: Principal, where: Principal, model: PolicyModel,
                   reasons: list[str]) -> Tri:
    source = _any([_match_source(s, who, model, reasons) for s in grant.src])
    target = _any([_match_selector(d, where, model, reasons, who) for d in grant.dst])
    return _all([source, target, None if grant.src_posture or grant.via else True])
