"""Policies Tailscale's API refuses as invalid, refused offline with the entry named.

Every class here was refused by Tailscale SaaS in the captures published in
github.com/juanfont/headscale, `hscontrol/policy/v2/testdata/{acl,grant}_results/` (commit
f20f1f12); the messages follow the API's. Classes the captures show but this module leaves to
the API are listed in docs/policy-checker.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from ..sections import section
from .model import Finding, _section_list, _split_host_port, _strings

# tailscale.com capability names the API accepted (grant_results a3, a4, a6, b1) and refused
# (a5, k9, k10: "capability name must not be in the tailscale.com domain").
_ACCEPTED_TAILSCALE_CAPS: Final = frozenset({"kubernetes", "drive", "relay", "webui"})
_REFUSED_TAILSCALE_CAPS: Final = frozenset({"funnel", "ingress", "relay-target"})
_SELF: Final = "autogroup:self"
_ALL_ADDRESSES: Final = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


def _problem(where: str, index: int, part: str, message: str) -> Finding:
    return Finding("problem", where, index, message, part)


def _self_sources_ok(src: Sequence[str], is_acl: bool) -> str | None:
    """The first source that may not be paired with an autogroup:self destination. The API
    accepts `*` beside autogroup:self in acls (acl_results a13) but not in grants (p04-3)."""
    for selector in src:
        if selector == "autogroup:member" or selector.startswith("group:"):
            continue
        if selector == "*" and is_acl:
            continue
        if "@" in selector and not selector.startswith("autogroup:"):
            continue
        return selector
    return None


def _is_all_addresses(selector: str) -> bool:
    try:
        return ipaddress.ip_network(selector, strict=False) in _ALL_ADDRESSES
    except ValueError:
        return False


def _cap_problem(name: str) -> tuple[str, str] | None:
    """(severity, message) for a capability name the API refuses or may refuse."""
    domain, slash, path = name.partition("/")
    if "://" in name or not slash or not domain or not path or "." not in domain:
        return "problem", (f"capability name {name!r} must have the form {{domain}}/{{path}} "
                           "(an https:// name, such as the old "
                           "https://tailscale.com/cap/kubernetes, is refused)")
    if domain != "tailscale.com":
        return None
    last = path.removeprefix("cap/")
    if last in _ACCEPTED_TAILSCALE_CAPS:
        return None
    if last in _REFUSED_TAILSCALE_CAPS:
        return "problem", f"capability name {name!r} must not be in the tailscale.com domain"
    return "warning", (f"capability name {name!r} is in the tailscale.com domain; the API "
                       "refuses the ones it does not know, and whether it knows this one is "
                       "not known offline")


def _selectors(entry: Mapping[str, Any], key: str, hosts_only: bool) -> list[str]:
    values = _strings(section(entry, key)) or ()
    if not hosts_only:
        return list(values)
    return [split[0] if (split := _split_host_port(value)) else value for value in values]


def _rule_findings(name: str, index: int, entry: Mapping[str, Any],
                   tags: frozenset[str] | None) -> Iterator[Finding]:
    """`tags` None: tags are not checked against tagOwners."""
    is_acl = name == "acls"
    src = _selectors(entry, "src", False) + _selectors(entry, "users", False)
    dst_key = "dst" if section(entry, "dst") is not None or not is_acl else "ports"
    dst = _selectors(entry, dst_key, is_acl)
    for position, selector in enumerate(src):
        if selector == _SELF:
            yield _problem(name, index, f".src[{position}]",
                           '"autogroup:self" is not valid on the src side of a rule')
    wrong_source = _self_sources_ok(src, is_acl)
    for position, selector in enumerate(dst):
        where = f".{dst_key}[{position}]"
        if selector == _SELF and wrong_source is not None:
            yield _problem(name, index, where,
                           "autogroup:self can only be used with users, groups or "
                           f"autogroup:member as sources, not {wrong_source!r}")
        if not is_acl and _is_all_addresses(selector):
            yield _problem(name, index, where, f"dst {selector!r}: to allow all IP addresses, "
                           'use "*" or "autogroup:internet"')
        if not is_acl and selector == "autogroup:danger-all":
            yield _problem(name, index, where, "cannot use autogroup:danger-all as a dst")
        if not is_acl and selector == "autogroup:internet" and section(entry, "app"):
            yield _problem(name, index, where, "cannot use app grants with autogroup:internet")
    via = [] if is_acl else _selectors(entry, "via", False)
    for key, selectors in (("src", src), (dst_key, dst), ("via", via)):
        for position, selector in enumerate(selectors):
            if key == "via" and not selector.startswith("tag:"):
                yield _problem(name, index, f".via[{position}]", "via can only be a tag")
            elif selector.startswith("tag:") and tags is not None and selector not in tags:
                yield _problem(name, index, f".{key}[{position}]",
                               f"tag {selector!r} is not defined in tagOwners")


def _grant_shape(index: int, entry: Mapping[str, Any]) -> Iterator[Finding]:
    ip, app = section(entry, "ip"), section(entry, "app")
    if not ip and not app:
        yield _problem("grants", index, "", "ip and app can not both be empty")
    for position, selector in enumerate(_strings(ip) or ()):
        ports = selector.rpartition(":")[2]
        if ports.split("-")[0] == "0":
            yield _problem("grants", index, f".ip[{position}]", f"port range {ports!r}: first "
                           "port must be >0, or use '*' for wildcard")
    if isinstance(app, Mapping):
        for name in app:
            found = _cap_problem(str(name))
            if found is not None:
                severity, message = found
                yield Finding(severity, "grants", index, message,  # type: ignore[arg-type]
                              f".app[{name!r}]")


def refusals(policy: Mapping[str, Any], *, undefined_tags: bool = False) -> list[Finding]:
    """Every entry of `acls` and `grants` in a class Tailscale's API refuses (problems), and
    capability names whose fate is not known offline (warnings). `undefined_tags`: also
    refuse tags missing from `tagOwners` (the API does: acl_results err01, grant_results h7);
    off for plans, whose base policies may be checked against a tagOwners merged later."""
    owners = section(policy, "tagOwners")
    tags = frozenset(owners) if isinstance(owners, Mapping) and undefined_tags else None
    found: list[Finding] = []
    for name in ("acls", "grants"):
        entries, _ = _section_list(policy, name)
        for index, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                continue
            found += _rule_findings(name, index, entry, tags)
            if name == "grants":
                found += _grant_shape(index, entry)
    return found
