"""The evaluator against Tailscale's own decisions, transcribed from captures of Tailscale
SaaS (see the fixture's `_source`): network questions, capability grants, the `tests` runner
and the policies the API refused as invalid."""

import json
from pathlib import Path
from typing import Any

import pytest
from tailscale_cluster_access.core.policy.evaluate import (
    build_model,
    capabilities,
    reachable,
    run_tests,
)

CAPTURES: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "tailscale_captures.json").read_text()
)


def _id(case: dict[str, Any]) -> str:
    return str(case["id"])


@pytest.mark.parametrize("case", CAPTURES["policytests"], ids=_id)
def test_the_test_runner_never_passes_what_tailscale_fails(case: dict[str, Any]) -> None:
    report = run_tests(case["policy"], model=build_model(case["policy"], strict_tags=True))
    if case["tailscale_fails"]:
        assert not (report.ok and not report.warnings), report.render()
    else:
        assert report.ok and not report.warnings, report.render()


@pytest.mark.parametrize("case", CAPTURES["invalid"], ids=_id)
def test_policies_tailscale_refuses_are_refused_naming_the_entry(case: dict[str, Any]) -> None:
    report = run_tests(case["policy"], model=build_model(case["policy"], strict_tags=True))
    assert report.problems, case["message"]
    assert all(p.where.startswith(("acls[", "grants[")) for p in report.problems)


def test_network_answers_agree_with_tailscale() -> None:
    models = {name: build_model(policy) for name, policy in CAPTURES["policies"].items()}
    wrong = []
    for q in CAPTURES["questions"]:
        decision = reachable(models[q["id"]], q["src"], q["dst"], q["port"], q["proto"])
        if decision.verdict != "undecidable" and decision.allowed != q["allowed"]:
            wrong.append(q)
    assert not wrong
    assert any(q["proto"] == "ipv6-icmp" and q["allowed"] for q in CAPTURES["questions"])


def test_capabilities_agree_with_tailscale() -> None:
    models = {name: build_model(policy) for name, policy in CAPTURES["policies"].items()}
    for case in CAPTURES["capabilities"]:
        answer = capabilities(models[case["id"]], case["src"], case["dst"])
        assert answer.decided, answer.reasons
        assert {k: list(v) for k, v in answer.values.items()} == case["caps"], case


def test_capability_values_of_several_grants_are_concatenated() -> None:
    grant = {"src": ["group:a"], "dst": ["tag:k8s"],
             "app": {"tailscale.com/cap/kubernetes": [{"impersonate": {"groups": ["x"]}}]}}
    other = {"src": ["autogroup:member"], "dst": ["tag:k8s"],
             "app": {"tailscale.com/cap/kubernetes": [{"enforceRecorder": True}]}}
    policy = {"groups": {"group:a": ["alice@example.com"]}, "grants": [grant, other]}
    answer = capabilities(policy, "alice@example.com", "tag:k8s")
    assert answer.decided
    assert answer.values == {"tailscale.com/cap/kubernetes": (
        {"impersonate": {"groups": ["x"]}}, {"enforceRecorder": True})}
    assert capabilities(policy, "tag:ci", "tag:k8s").values == {}


def test_ip_star_opens_tcp_udp_and_icmp_only() -> None:
    policy = {"grants": [{"src": ["*"], "dst": ["tag:k8s"], "ip": ["*"]}]}
    assert reachable(policy, "tag:ci", "tag:k8s", 0, "ipv6-icmp").allowed
    assert not reachable(policy, "tag:ci", "tag:k8s", 9, "sctp").allowed


def test_star_as_a_source_is_not_every_address() -> None:
    policy = {"grants": [{"src": ["*"], "dst": ["tag:k8s"], "ip": ["*"]}]}
    assert reachable(policy, "100.100.1.1", "tag:k8s", 443).verdict != "denied"
    assert not reachable(policy, "8.8.8.8", "tag:k8s", 443).allowed


def test_the_old_https_capability_name_is_refused_naming_the_entry() -> None:
    policy = {"grants": [{"src": ["*"], "dst": ["tag:k8s"],
                          "app": {"https://tailscale.com/cap/kubernetes": [{}]}}]}
    [problem] = run_tests(policy).problems
    assert problem.where == "grants[0].app['https://tailscale.com/cap/kubernetes']"
