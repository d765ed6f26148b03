"""The evaluator's index (evaluate/index.py) gives the answers of matching every selector of
every rule in turn, on random small policies, and keeps large policies linear."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tailscale_cluster_access.core.policy.evaluate import build_model, run_tests
from tailscale_cluster_access.core.policy.evaluate.checks import _who_reaches
from tailscale_cluster_access.core.policy.evaluate.grants import _capabilities
from tailscale_cluster_access.core.policy.evaluate.match import _decide, principal
from tailscale_cluster_access.core.policy.evaluate.model import Principal

GROUPS = {
    "group:ml": ["alice@example.com", "Bob@example.com"],
    "group:ops": ["bob@example.com", "user:carol@example.com"],
    "group:empty": [],
}
HOSTS = {
    "gpu-node": "100.64.1.7",
    "gpu-subnet": "100.64.1.0/24",
    "office": "192.168.10.0/24",
    "v6-node": "fd7a:115c:a1e0::17",
}
POSTURES = {"posture:latest": ["node:tsVersion >= '1.60'"]}
# Names, address ranges (nested, disjoint, inside and outside the tailnet, IPv6) and the
# selectors the index leaves to the plain match: every kind the index sorts selectors into.
SELECTORS = [
    "*", "autogroup:member", "autogroup:tagged", "autogroup:self", "autogroup:internet",
    "autogroup:admin", "autogroup:danger-all", "group:ml", "group:ops", "group:empty",
    "group:undefined", "tag:k8s", "tag:ci", "alice@example.com", "user:bob@example.com",
    "Carol@Example.com", "user:carol@example.com", "*@example.com", "gpu-node", "gpu-subnet",
    "office", "v6-node", "100.64.0.0/10", "100.64.1.0/24", "100.64.1.7", "100.64.1.128/25",
    "100.64.2.9/32", "100.64.0.0/16", "10.0.0.0/8", "10.1.2.3", "192.168.10.5",
    "fd7a:115c:a1e0::/48", "fd7a:115c:a1e0::17", "2001:db8::/32", "unknown-host",
]
IDENTITIES = [
    "alice@example.com", "bob@example.com", "user:Carol@example.com", "dave@other.org",
    "group:ml", "group:ops", "group:empty", "tag:k8s", "tag:ci", "gpu-node", "gpu-subnet",
    "100.64.1.7", "100.64.1.200", "100.64.0.0/16", "10.1.2.3", "192.168.10.5", "v6-node",
    "fd7a:115c:a1e0::99", "autogroup:member", "autogroup:tagged", "*", "autogroup:internet",
    "office", "nobody",
]
PORTS = ["*", "443", "80,443", "1000-2000", "22"]
# Enough selectors in one list that the index sorts them into a table rather than a list.
selector_lists = st.lists(st.sampled_from(SELECTORS), min_size=1, max_size=14)

acl_rules = st.builds(
    lambda src, dst, ports, proto, posture: {
        "action": "accept", "src": src, "dst": [f"{d}:{ports}" for d in dst],
        **({"proto": proto} if proto else {}), **({"srcPosture": posture} if posture else {})},
    selector_lists, selector_lists, st.sampled_from(PORTS),
    st.sampled_from([None, "tcp", "udp", "icmp"]),
    st.sampled_from([[], ["posture:latest"]]),
)
grant_rules = st.builds(
    lambda src, dst, ip, via, app: {
        "src": src, "dst": dst, **({"ip": ip} if ip else {}), **({"via": via} if via else {}),
        **({"app": app} if app or not ip else {})},
    selector_lists, selector_lists,
    st.lists(st.sampled_from(["*", "443", "tcp:443", "udp:53", "tcp:80-90", "icmp:*"]),
             max_size=2),
    st.sampled_from([[], ["tag:router"]]),
    st.sampled_from([{}, {"example.com/cap/a": [{"n": 1}]},
                     {"tailscale.com/cap/drive": [{"shares": ["*"]}]}]),
)
policies = st.builds(
    lambda acls, grants: {"groups": GROUPS, "hosts": HOSTS, "postures": POSTURES,
                          "acls": acls, "grants": grants},
    st.lists(acl_rules, max_size=6),
    st.lists(grant_rules, max_size=6),
)
questions = st.lists(st.tuples(st.sampled_from(IDENTITIES), st.sampled_from(IDENTITIES),
                               st.sampled_from([22, 53, 80, 85, 443, 1500, 8080]),
                               st.sampled_from(["tcp", "udp", "icmp"]),
                               st.sampled_from([{}, {"node:tsVersion": "1.62.0"}])),
                     min_size=1, max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies, questions)
def test_indexed_answers_equal_the_plain_scan(policy: dict[str, Any], asked: Any) -> None:
    model = build_model(policy)
    for src, dst, port, proto, attrs in asked:
        who, where = principal(src, model), principal(dst, model)
        assert _decide(model, who, where, port, proto, attrs) == _decide(
            model, who, where, port, proto, attrs, indexed=False)
        assert _capabilities(model, who, where) == _capabilities(
            model, who, where, indexed=False)
        if dst.startswith("tag:"):
            tag = Principal(dst, "tag")
            assert _who_reaches(model, tag, port, proto) == _who_reaches(
                model, tag, port, proto, indexed=False)


def _groups_policy(size: int) -> dict[str, Any]:
    groups = {f"group:team-{i}": [f"user{i}@example.com"] for i in range(size)}
    return {"groups": groups,
            "acls": [{"action": "accept", "src": list(groups), "dst": ["tag:k8s:443"]}],
            "tests": [{"src": f"user{i}@example.com", "accept": ["tag:k8s:443"],
                       "deny": ["tag:k8s:80"]} for i in range(size)]}


def _address_policy(size: int) -> dict[str, Any]:
    def address(first: int, i: int) -> str:
        return f"100.{first + i // 256}.{i % 256}"

    return {"acls": [{"action": "accept", "src": [f"{address(64, i)}.1"],
                      "dst": [f"{address(96, i)}.0/24:443"]} for i in range(size)],
            "tests": [{"src": f"{address(64, i)}.1", "accept": [f"{address(96, i)}.7:443"],
                       "deny": [f"{address(96, i)}.7:80"]} for i in range(size)]}


def test_a_rule_of_many_groups_and_many_address_rules_pass_their_tests() -> None:
    # Large enough that a scan of every selector per test would take minutes, not seconds.
    for policy in (_groups_policy(4000), _address_policy(4000)):
        started = time.perf_counter()
        report = run_tests(policy)
        assert report.ok and not report.warnings, report.render()[:500]
        assert report.passed == 8000
        print(f"{len(policy['tests'])} tests: {time.perf_counter() - started:.2f} s")
