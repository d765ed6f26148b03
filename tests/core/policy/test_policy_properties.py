"""Property: over generated base policies, every test the project emits passes offline.

The bases mix what real tailnets hold: allow-all rules in every spelling, legacy and new acls
syntax, capitalised keys, grants with `ip`, role autogroups and IP ranges (undecidable), rules
with postures, and rules to the stacks' own tags."""

import copy
import json
from typing import Any

from conftest import PROJECT_ROOT, stack_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tailscale_cluster_access.core.cluster_plan import plan_cluster
from tailscale_cluster_access.core.policy import hujson
from tailscale_cluster_access.core.policy.build import build_fragment, compose_cluster
from tailscale_cluster_access.core.policy.evaluate import build_model, run_tests
from tailscale_cluster_access.core.policy.merge import merge_policies
from tailscale_cluster_access.core.policy.verify import origins
from tailscale_cluster_access.core.spec import ClusterAccessSpec

MAX_EXAMPLES = 300
COUNTS = {"bases": 0, "tests": 0, "assertions": 0}

SOURCES = ["*", "autogroup:member", "autogroup:tagged", "autogroup:danger-all",
           "autogroup:admin", "group:team", "bob@example.com", "alice@example.com",
           "user:*@example.com", "tag:tsrecorder", "tag:k8s", "tag:k8s-operator", "tag:ci",
           "100.64.0.0/10", "10.0.0.0/8"]
DESTINATIONS = ["*:*", "*:443", "tag:k8s-operator:443", "tag:k8s:80,443", "tag:k8s:443",
                "tag:tsrecorder:*", "tag:tsrecorder:80", "tag:ci:22", "autogroup:member:*",
                "100.64.0.0/10:443"]
IPS = ["*", "tcp:443", "udp:53", "80", "tcp:80-443"]
USERS = ["alice@example.com", "bob@example.com", "carol@example.com"]


def _spec(stack: str, **changes: Any) -> ClusterAccessSpec:
    config = copy.deepcopy(stack_config(stack))
    config.update(changes)
    config["policy"] = {**config.get("policy", {}), "manage": False}
    config["policy"].pop("base", None)
    return plan_cluster(config, PROJECT_ROOT).spec


SPECS = [
    _spec("dev"), _spec("prod"), _spec("staging"),
    _spec("dev", access=[{"src": ["*"], "kubernetesGroups": ["tailnet-readers"]}]),
    _spec("dev", access=[{"src": ["group:ml-readers", "bob@example.com"],
                          "kubernetesGroups": ["tailnet-readers"]}]),
    _spec("prod", policy={"networkRules": "grants"}),
]


def _cased(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name[0].upper() + name[1:]])


@st.composite
def acl_rule(draw: st.DrawFn, legacy: bool) -> dict[str, Any]:
    src_key, dst_key = ("users", "ports") if legacy else ("src", "dst")
    rule: dict[str, Any] = {
        draw(_cased("action")): "accept",
        draw(_cased(src_key)): draw(st.lists(st.sampled_from(SOURCES), min_size=1, max_size=3)),
        draw(_cased(dst_key)): draw(st.lists(st.sampled_from(DESTINATIONS), min_size=1,
                                             max_size=3)),
    }
    proto = draw(st.sampled_from([None, "tcp", "udp", "6"]))
    if proto is not None:
        rule["proto"] = proto
    if draw(st.booleans()):
        rule["srcPosture"] = ["posture:base-linux"]
    return rule


@st.composite
def grant_rule(draw: st.DrawFn) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "src": draw(st.lists(st.sampled_from(SOURCES), min_size=1, max_size=3)),
        "dst": draw(st.lists(st.sampled_from([d.rpartition(":")[0] for d in DESTINATIONS]),
                             min_size=1, max_size=2)),
        "ip": draw(st.lists(st.sampled_from(IPS), min_size=1, max_size=2)),
    }
    if draw(st.booleans()):
        rule["srcPosture"] = ["posture:base-linux"]
    return rule


@st.composite
def base_policy(draw: st.DrawFn) -> dict[str, Any]:
    legacy = draw(st.booleans())
    base: dict[str, Any] = {
        "groups": {"group:team": draw(st.lists(st.sampled_from(USERS), unique=True))},
        "postures": {"posture:base-linux": ["node:os == 'linux'"]},
    }
    acls = draw(st.lists(acl_rule(legacy), max_size=4))
    if acls:
        base[draw(st.sampled_from(["acls", "ACLs"]))] = acls
    grants = draw(st.lists(grant_rule(), max_size=3))
    if grants:
        base[draw(st.sampled_from(["grants", "Grants"]))] = grants
    return base


@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(base=base_policy(), spec=st.sampled_from(SPECS))
def test_every_emitted_test_passes_on_the_merged_policy(
        base: dict[str, Any], spec: ClusterAccessSpec) -> None:
    fragment = build_fragment(spec, base)
    merged = merge_policies(base, [(spec.cluster, fragment)])
    report = run_tests(merged, origins(merged, base, [(spec.cluster, fragment)]))
    assert not report.failures, report.render()
    assert not report.problems, report.render()
    COUNTS["bases"] += 1
    COUNTS["tests"] += len(fragment["tests"])
    COUNTS["assertions"] += report.passed
    # Nothing emitted is left undecided: a generated test is decided when it is written.
    assert not report.warnings, report.render()


def test_the_property_ran_enough_examples() -> None:
    """Runs after the property in file order; prints what it covered (`pytest -s`)."""
    print(f"property examples: {COUNTS}")
    if COUNTS["bases"]:
        assert COUNTS["bases"] >= MAX_EXAMPLES // 2
        assert COUNTS["tests"] > COUNTS["bases"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=base_policy(), spec=st.sampled_from(SPECS))
def test_planning_merges_and_models_the_rules_once_with_the_same_result(
        base: dict[str, Any], spec: ClusterAccessSpec) -> None:
    """A composition merges the base with the fragment's sections before its tests exist, then
    adds the tests to that merge and keeps the model the tests were decided on. Both must be
    what merging and modelling the whole fragment give, key order and rule origins included."""
    name = spec.cluster or "stack"
    composed = compose_cluster(spec, "", hujson.PolicyDocument(base), [], render=False)
    assert composed.model is not None
    fragment = composed.fragments[0][1]
    whole = merge_policies(base, [(name, fragment)])
    assert json.dumps(composed.data) == json.dumps(whole)
    assert composed.model == build_model(whole, origins(whole, base, [(name, fragment)]))
    assert composed.origins == origins(whole, base, [(name, fragment)])
    assert fragment == build_fragment(spec, base)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=base_policy(), spec=st.sampled_from(SPECS))
def test_one_fragment_origins_agree_with_matching_each_entry(
        base: dict[str, Any], spec: ClusterAccessSpec) -> None:
    """With one fragment, origins labels every entry after the base's without comparing
    entries; an empty second fragment makes it match each entry, with the same labels."""
    fragment = build_fragment(spec, base)
    merged = merge_policies(base, [(spec.cluster, fragment)])
    shortcut = origins(merged, base, [(spec.cluster, fragment)])
    matched = origins(merged, base, [(spec.cluster, fragment), ("empty", {})])
    assert shortcut == matched
