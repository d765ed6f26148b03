"""Build the tailnet policy sections one cluster needs from its `ClusterAccessSpec`.

Every destination, port and test below is derived from `spec.endpoint_tag` and
`spec.endpoint_ports`, so switching the proxy kind moves grants, network rules,
recorder rules and tests together.
"""

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from ..chart import KUBERNETES_CAPABILITY
from ..spec import RECORDER_PORT, AccessRule, ClusterAccessSpec
from . import hujson
from .compose import Composed, align_acls_syntax, compose
from .evaluate import PolicyModel, reachable
from .sections import section

# `node:attr == 'value'` style posture conditions, the ones a test can satisfy.
_POSTURE_CONDITION_RE = re.compile(
    r"^\s*(?P<attr>[a-zA-Z]+:[a-zA-Z0-9_.-]+)\s*(?P<op>==|IN|>=|<=)\s*(?P<value>.+?)\s*$"
)
_QUOTED_RE = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def tag_owners(spec: ClusterAccessSpec, base: Mapping[str, Any] | None = None
               ) -> dict[str, list[str]]:
    """The guide's tagOwners; the operator also owns the recorder tag when it deploys one.
    The deployer's tag, when the base does not define it already (CI tags usually exist)."""
    tags = spec.tags
    recorder_owners = [tags.operator] if spec.recorder_deployed else []
    owners = {tags.operator: [], tags.proxy: [tags.operator], tags.recorder: recorder_owners}
    if spec.proxy.high_availability:
        owners[tags.proxy_group] = [tags.operator]
    base_owners = section(base, "tagOwners")
    if spec.deployer is not None and not (
            isinstance(base_owners, Mapping) and spec.deployer.tag in base_owners):
        # Like the operator's tag: only admins (and the credentials they give it) may apply it.
        owners.setdefault(spec.deployer.tag, [])
    return owners


def kubernetes_capability(spec: ClusterAccessSpec, rule: AccessRule) -> dict[str, Any]:
    capability: dict[str, Any] = {"impersonate": {"groups": list(rule.kubernetes_groups)}}
    recording = spec.session_recording
    if rule.record_sessions and recording.enabled:
        capability["recorder"] = [spec.tags.recorder]
        capability["enforceRecorder"] = recording.enforce
        if recording.record_api_requests or rule.record_api_requests:
            capability["enableEvents"] = True
    return capability


def capability_grants(spec: ClusterAccessSpec) -> list[dict[str, Any]]:
    grants: list[dict[str, Any]] = []
    for rule in spec.grant_rules:
        grant: dict[str, Any] = {
            "src": list(rule.src),
            "dst": [spec.endpoint_tag],
            "app": {KUBERNETES_CAPABILITY: [kubernetes_capability(spec, rule)]},
        }
        if rule.posture:
            grant["srcPosture"] = list(rule.posture)
        grants.append(grant)
    return grants


def network_rules(spec: ClusterAccessSpec
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(acls, grants) that open the proxy's ports; app capabilities need network access too.

    `acls` rules carry `"proto": "tcp"` (without it a rule also opens UDP and ICMP, kb/1337)."""
    acls: list[dict[str, Any]] = []
    grants: list[dict[str, Any]] = []
    use_grants = spec.policy.network_rules == "grants"
    flows = [
        (list(rule.src), spec.endpoint_tag, spec.endpoint_ports, list(rule.posture))
        for rule in spec.grant_rules
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
                "proto": "tcp",
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
    if "*" in src:
        return False
    return src.startswith(("group:", "tag:")) or "@" in src


def base_postures(base: Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    found = section(base, "postures")
    if not isinstance(found, Mapping):
        return {}
    return {name: tuple(str(rule) for rule in rules) for name, rules in found.items()
            if isinstance(rules, list)}


def _accept_candidates(spec: ClusterAccessSpec, known_postures: Mapping[str, tuple[str, ...]],
                       notes: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """(source, srcPostureAttrs) of every testable source of the access rules, once each."""
    where = f"{spec.cluster}: " if spec.cluster else ""
    candidates: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for rule in spec.grant_rules:
        attributes: dict[str, Any] | None = {}
        for name in rule.posture:
            found = posture_test_attributes(known_postures.get(name, ()))
            if found is None or attributes is None:
                attributes = None
                break
            attributes.update(found)
        if attributes is None:
            notes.append(f"{where}no policy test for {', '.join(rule.src)}: the posture "
                         f"{', '.join(rule.posture)} is beyond simple attr == 'value' "
                         "conditions.")
            continue
        for src in rule.src:
            if is_testable_source(src) and src not in seen:
                seen.add(src)
                candidates.append((src, attributes))
    return candidates


def decide_tests(spec: ClusterAccessSpec, base: Mapping[str, Any] | None, model: PolicyModel,
                 notes: list[str]) -> list[dict[str, Any]]:
    """Tailscale runs these on every policy write, so each is decided first on `model` (of the
    merged policy) by the offline evaluator: an `accept` only if it decides "allowed", a `deny`
    only if "denied". Each source of a rule reaches its endpoint; the recorder (which has no
    access) cannot, unless some rule lets it; the endpoint reaches the recorder. `notes`
    collects the tests left out and why."""
    where = f"{spec.cluster}: " if spec.cluster else ""
    known_postures = {**base_postures(base), **spec.postures}
    tests: list[dict[str, Any]] = []

    def decided(src: str, tag: str, ports: tuple[int, ...], attrs: Mapping[str, Any],
                want: str) -> list[str]:
        kept: list[str] = []
        for port in ports:
            decision = reachable(model, src, tag, port, "tcp", attrs)
            if decision.verdict == want:
                kept.append(f"{tag}:{port}")
            else:
                reason = "; ".join(decision.reasons) or "allowed by " + ", ".join(
                    rule.label for rule in decision.rules)
                notes.append(f"{where}no policy test that {src} is {want} {tag}:{port}: the "
                             f"offline evaluator finds it {decision.verdict} ({reason}).")
        return kept

    for src, attributes in _accept_candidates(spec, known_postures, notes):
        accepted = decided(src, spec.endpoint_tag, spec.endpoint_ports, attributes, "allowed")
        if accepted:
            test: dict[str, Any] = {"src": src, "accept": accepted}
            if attributes:
                test["srcPostureAttrs"] = attributes
            tests.append(test)
    recorder = spec.tags.recorder
    if spec.recorder_deployed:
        accepted = decided(spec.endpoint_tag, recorder, (RECORDER_PORT,), {}, "allowed")
        if accepted:
            tests.append({"src": spec.endpoint_tag, "accept": accepted})
    denied = decided(recorder, spec.endpoint_tag, spec.endpoint_ports, {}, "denied")
    if denied:
        tests.append({"src": recorder, "deny": denied})
    return tests


def fragment_sections(spec: ClusterAccessSpec, base: Mapping[str, Any] | None = None
                      ) -> dict[str, Any]:
    """The fragment without its tests (`compose` writes its acls in the base's syntax)."""
    policy: dict[str, Any] = {}
    if spec.groups:
        policy["groups"] = {name: list(members) for name, members in spec.groups.items()}
    policy["tagOwners"] = tag_owners(spec, base)
    if spec.postures:
        policy["postures"] = {name: list(rules) for name, rules in spec.postures.items()}
    if spec.proxy.high_availability:
        # The ProxyGroup advertises a Tailscale Service tagged like its devices.
        group_tag = spec.tags.proxy_group
        policy["autoApprovers"] = {"services": {group_tag: [group_tag]}}
    acls, ip_grants = network_rules(spec)
    policy["grants"] = capability_grants(spec) + ip_grants
    if acls:
        policy["acls"] = acls
    return policy


def compose_cluster(spec: ClusterAccessSpec, base_text: str, base: hujson.PolicyDocument | None,
                    notes: list[str], *, render: bool = True, key: str = "policy.base",
                    base_source: str = "policy.base") -> Composed:
    """The cluster's fragment composed into the base: its tests decided on the merged rules."""
    where = f"{spec.cluster}: " if spec.cluster else ""
    document = base or hujson.PolicyDocument({})

    def tests(model: PolicyModel) -> list[dict[str, Any]]:
        return decide_tests(spec, document.data, model, notes)

    return compose(base_text, [(spec.cluster or "stack", fragment_sections(spec, document.data))],
                   base=document, base_source=base_source, key=key, where=where,
                   decide_tests=tests, render=render, complete=spec.policy.manage)


def build_fragment(spec: ClusterAccessSpec, base: Mapping[str, Any] | None = None,
                   notes: list[str] | None = None) -> dict[str, Any]:
    """The policy sections this cluster needs, in the order a reviewer reads them.

    `notes` collects the tests left out and why (the plan shows them as warnings)."""
    notes = [] if notes is None else notes
    document = hujson.PolicyDocument(dict(base or {}))
    composed = compose_cluster(spec, "", document, notes, render=False)
    if composed.model is None:
        # A base the plan refuses (conflicts, mixed acls): the fragment alone is the best guess.
        alone = hujson.PolicyDocument({})
        composed = compose_cluster(spec, "", alone, notes, render=False)
        composed = dataclasses.replace(composed, fragments=tuple(
            (name, dict(fragment)) for name, fragment in
            align_acls_syntax(document.data, composed.fragments)))
    return composed.fragments[0][1]
