"""Build the tailnet policy sections one cluster needs from its `ClusterAccessSpec`.

Every destination, port and test below is derived from `spec.endpoint_tag` and
`spec.endpoint_ports`, so switching the proxy kind moves grants, network rules,
recorder rules and tests together.
"""

import re
from collections.abc import Mapping
from typing import Any

from ..spec import KUBERNETES_CAPABILITY, RECORDER_PORT, AccessRule, ClusterAccessSpec
from .sections import section

# Sources that also cover a tag: a deny test for that tag would contradict them.
_SOURCES_COVERING_TAGS = frozenset({"*", "autogroup:tagged"})

# `node:attr == 'value'` style posture conditions, the ones a test can satisfy.
_POSTURE_CONDITION_RE = re.compile(
    r"^\s*(?P<attr>[a-zA-Z]+:[a-zA-Z0-9_.-]+)\s*(?P<op>==|IN|>=|<=)\s*(?P<value>.+?)\s*$"
)
_QUOTED_RE = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def tag_owners(spec: ClusterAccessSpec) -> dict[str, list[str]]:
    """The guide's tagOwners; the operator also owns the recorder tag when it deploys one."""
    tags = spec.tags
    recorder_owners = [tags.operator] if spec.recorder_deployed else []
    return {tags.operator: [], tags.proxy: [tags.operator], tags.recorder: recorder_owners}


def kubernetes_capability(spec: ClusterAccessSpec, rule: AccessRule) -> dict[str, Any]:
    capability: dict[str, Any] = {"impersonate": {"groups": list(rule.kubernetes_groups)}}
    recording = spec.session_recording
    if rule.record_sessions and recording.enabled:
        capability["recorder"] = [spec.tags.recorder]
        capability["enforceRecorder"] = recording.enforce
        if recording.record_api_requests:
            capability["enableEvents"] = True
    return capability


def capability_grants(spec: ClusterAccessSpec) -> list[dict[str, Any]]:
    grants: list[dict[str, Any]] = []
    for rule in spec.access:
        grant: dict[str, Any] = {
            "src": list(rule.src),
            "dst": [spec.endpoint_tag],
            "app": {KUBERNETES_CAPABILITY: [kubernetes_capability(spec, rule)]},
        }
        if rule.posture:
            grant["srcPosture"] = list(rule.posture)
        grants.append(grant)
    return grants


def network_rules(spec: ClusterAccessSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(acls, grants) that open the proxy's ports; app capabilities need network access too."""
    acls: list[dict[str, Any]] = []
    grants: list[dict[str, Any]] = []
    use_grants = spec.policy.network_rules == "grants"
    flows = [
        (list(rule.src), spec.endpoint_tag, spec.endpoint_ports, list(rule.posture))
        for rule in spec.access
    ]
    if spec.recorder_deployed:
        flows.append(([spec.endpoint_tag], spec.tags.recorder, (RECORDER_PORT,), []))
    for src, dst_tag, ports, posture in flows:
        if use_grants:
            grant: dict[str, Any] = {
                "src": src,
                "dst": [dst_tag],
                "ip": [f"tcp:{port}" for port in ports],
            }
            if posture:
                grant["srcPosture"] = posture
            grants.append(grant)
        else:
            acl: dict[str, Any] = {
                "action": "accept",
                "src": src,
                "dst": [f"{dst_tag}:{port}" for port in ports],
            }
            if posture:
                acl["srcPosture"] = posture
            acls.append(acl)
    return acls, grants


def posture_test_attributes(conditions: list[str] | tuple[str, ...]) -> dict[str, Any] | None:
    """Attributes that satisfy every condition, or None when one is beyond a simple guess."""
    attributes: dict[str, Any] = {}
    for condition in conditions:
        match = _POSTURE_CONDITION_RE.match(condition)
        if not match:
            return None
        quoted = _QUOTED_RE.findall(match["value"])
        values = [single or double for single, double in quoted]
        if not values:
            return None
        attributes[match["attr"]] = values[0]
    return attributes


def is_testable_source(src: str) -> bool:
    """Policy tests take one concrete identity: a user, a group or a tag."""
    return src.startswith(("group:", "tag:")) or ("@" in src and not src.startswith("*"))


def may_reach_anything(tag: str, spec: ClusterAccessSpec,
                       base: Mapping[str, Any] | None) -> bool:
    """Whether some rule (generated or in the base policy) has a source that covers `tag`.

    Then a deny test from `tag` may be false, and Tailscale would refuse the whole policy."""
    covering = _SOURCES_COVERING_TAGS | {tag}
    if any(covering & set(rule.src) for rule in spec.access):
        return True
    for name in ("acls", "grants"):
        entries = section(base, name)
        for entry in entries if isinstance(entries, list) else []:
            sources = entry.get("src") if isinstance(entry, Mapping) else None
            if isinstance(sources, list) and covering & {str(s) for s in sources}:
                return True
    return False


def base_postures(base: Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    found = section(base, "postures")
    if not isinstance(found, Mapping):
        return {}
    return {name: tuple(str(rule) for rule in rules) for name, rules in found.items()
            if isinstance(rules, list)}


def policy_tests(spec: ClusterAccessSpec,
                 base: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Tailscale runs these on every policy write: each rule reaches its endpoint, and the
    recorder (which has no access) cannot, unless some rule lets it."""
    known_postures = {**base_postures(base), **spec.postures}
    endpoint = [f"{spec.endpoint_tag}:{port}" for port in spec.endpoint_ports]
    tests: list[dict[str, Any]] = []
    seen: set[str] = set()
    for rule in spec.access:
        attributes: dict[str, Any] | None = {}
        for name in rule.posture:
            found = posture_test_attributes(known_postures.get(name, ()))
            if found is None or attributes is None:
                attributes = None
                break
            attributes.update(found)
        if attributes is None:
            continue
        for src in rule.src:
            if not is_testable_source(src) or src in seen:
                continue
            seen.add(src)
            test: dict[str, Any] = {"src": src, "accept": endpoint}
            if attributes:
                test["srcPostureAttrs"] = attributes
            tests.append(test)
    recorder = spec.tags.recorder
    if spec.recorder_deployed:
        tests.append({"src": spec.endpoint_tag, "accept": [f"{recorder}:{RECORDER_PORT}"]})
    if not may_reach_anything(recorder, spec, base):
        tests.append({"src": recorder, "deny": endpoint})
    return tests


def build_fragment(spec: ClusterAccessSpec,
                   base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The policy sections this cluster needs, in the order a reviewer reads them."""
    policy: dict[str, Any] = {}
    if spec.groups:
        policy["groups"] = {name: list(members) for name, members in spec.groups.items()}
    policy["tagOwners"] = tag_owners(spec)
    if spec.postures:
        policy["postures"] = {name: list(rules) for name, rules in spec.postures.items()}
    if spec.proxy.high_availability:
        # The ProxyGroup advertises a Tailscale Service tagged like its devices.
        policy["autoApprovers"] = {"services": {spec.tags.proxy: [spec.tags.proxy]}}
    acls, ip_grants = network_rules(spec)
    policy["grants"] = capability_grants(spec) + ip_grants
    if acls:
        policy["acls"] = acls
    policy["tests"] = policy_tests(spec, base)
    return policy
