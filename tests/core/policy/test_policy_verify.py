"""The offline evaluator run over every policy the project produces (issue 10).

The stack never emits a test Tailscale would fail, a base test the stack breaks stops the plan
naming the test, the rule and whose rule it is, and legacy `acls` syntax is kept."""

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT_ROOT, stack_config
from tailscale_cluster_access.core.cluster_plan import ClusterPlan, plan_cluster
from tailscale_cluster_access.core.policy import hujson
from tailscale_cluster_access.core.policy.evaluate import acls_style, run_tests
from tailscale_cluster_access.core.policy.sections import section
from tailscale_cluster_access.core.problems import InvalidConfig
from tailscale_cluster_access.offline.cli import main

OLD_DEFAULT = {"acls": [{"action": "accept", "users": ["*"], "ports": ["*:*"]}]}
NEW_DEFAULT = {"grants": [{"src": ["*"], "dst": ["*"], "ip": ["*"]}]}
CAPITALISED = {"ACLs": [{"Action": "accept", "Src": ["*"], "Dst": ["*:*"]}]}
DANGER_ALL = {"acls": [{"action": "accept", "src": ["autogroup:danger-all"], "dst": ["*:*"]}]}


def plan_with(base: dict[str, Any] | str, tmp_path: Path, stack: str = "dev",
              **changes: Any) -> ClusterPlan:
    config = copy.deepcopy(stack_config(stack))
    config.update(changes)
    path = tmp_path / "base.hujson"
    path.write_text(base if isinstance(base, str) else json.dumps(base))
    config.setdefault("policy", {})["base"] = str(path)
    return plan_cluster(config, PROJECT_ROOT)


def written_tests(plan: ClusterPlan) -> list[dict[str, Any]]:
    tests = section(plan.merged, "tests")
    return tests if isinstance(tests, list) else []


def assert_tests_pass(plan: ClusterPlan) -> None:
    report = run_tests(plan.merged)
    assert report.ok and not report.failures, report.render()


@pytest.mark.parametrize("base", [OLD_DEFAULT, NEW_DEFAULT, CAPITALISED, DANGER_ALL],
                         ids=["old-default", "new-default-grant", "capitalised", "danger-all"])
@pytest.mark.parametrize("stack", ["dev", "prod", "staging"])
def test_allow_all_bases_get_no_recorder_deny_test(base: dict[str, Any], stack: str,
                                                   tmp_path: Path) -> None:
    plan = plan_with(base, tmp_path, stack)
    assert_tests_pass(plan)
    recorder = plan.spec.tags.recorder
    tests = written_tests(plan)
    assert not any(test["src"] == recorder and "deny" in test for test in tests)
    # The access rules are still tested, and the base's reach is pointed out.
    assert any("accept" in test and test["src"].startswith("group:") for test in tests)
    assert any("the base policy" in w and "beyond the stack's access rules" in w
               for w in plan.warnings), plan.warnings


def test_a_dropped_test_names_the_rule_and_whose_it_is(tmp_path: Path) -> None:
    """The note for a test left out names the rule that decided it and who added it."""
    plan = plan_with(OLD_DEFAULT, tmp_path)
    note = next(w for w in plan.warnings if "no policy test that tag:tsrecorder is denied" in w)
    assert "allowed by acls[0] (base)" in note, note


def test_plain_base_gets_the_recorder_deny_test(tmp_path: Path) -> None:
    plan = plan_with({}, tmp_path)
    assert {"src": "tag:tsrecorder", "deny": ["tag:k8s-operator:443"]} in written_tests(plan)
    assert_tests_pass(plan)
    assert not any("the base policy" in w for w in plan.warnings)


def test_network_rules_carry_proto_tcp(tmp_path: Path) -> None:
    plan = plan_with({}, tmp_path, "prod")
    acls = plan.fragment["acls"]
    assert acls and all(acl["proto"] == "tcp" for acl in acls)


def test_legacy_base_gets_legacy_rules(tmp_path: Path) -> None:
    plan = plan_with(OLD_DEFAULT, tmp_path, "prod")
    assert acls_style(plan.merged) == "legacy"
    for acl in plan.fragment["acls"]:
        assert set(acl) >= {"action", "users", "ports", "proto"}
        assert "src" not in acl and "dst" not in acl
    assert_tests_pass(plan)


def test_mixed_base_is_refused_with_how_to_convert(tmp_path: Path) -> None:
    base = {"acls": OLD_DEFAULT["acls"] + [
        {"action": "accept", "src": ["group:sre"], "dst": ["tag:ci:22"]}]}
    with pytest.raises(InvalidConfig) as raised:
        plan_with(base, tmp_path)
    message = raised.value.render()
    assert "policy.base" in message and "mix old-style" in message
    assert 'rename "users" to "src"' in message


BROKEN_BY_READERS = {"tests": [{"src": "bob@example.com", "deny": ["tag:k8s-operator:443"]}]}


def test_a_base_test_the_stack_breaks_stops_the_plan(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig) as raised:
        plan_with(BROKEN_BY_READERS, tmp_path)
    message = raised.value.render()
    assert "tests[0] (base)" in message
    assert "bob@example.com deny tag:k8s-operator:443 fails" in message
    # The rule that breaks it: the stack's readers rule, named with its origin.
    assert "(gpu-dev)" in message and "group:ml-readers" in message


def test_the_cli_plan_exits_2_naming_the_broken_test(tmp_path: Path) -> None:
    import yaml

    config = copy.deepcopy(stack_config("dev"))
    base = tmp_path / "base.hujson"
    base.write_text(json.dumps(BROKEN_BY_READERS))
    config["policy"] = {"base": str(base)}
    stack_file = tmp_path / "Pulumi.bad.yaml"
    prefix = "tailscale-cluster-access:"
    stack_file.write_text(yaml.safe_dump({"config": {f"{prefix}{k}": v
                                                     for k, v in config.items()}}))
    stderr = io.StringIO()
    code = main(["plan", "--stack", "bad", "--config", str(stack_file),
                 "--out", str(tmp_path / "plan")], stdout=io.StringIO(), stderr=stderr)
    assert code == 2
    assert "tests[0] (base)" in stderr.getvalue()


TWO_OS = {"postures": {"posture:two-os": ["node:os == 'linux'", "node:os == 'macos'"]}}


def test_a_posture_no_device_meets_gets_no_accept_test(tmp_path: Path) -> None:
    access = [{"src": ["group:ml-readers"], "kubernetesGroups": ["tailnet-readers"],
               "posture": ["posture:two-os"]}]
    plan = plan_with(TWO_OS, tmp_path, access=access)
    assert not any(test["src"] == "group:ml-readers" for test in written_tests(plan))
    assert any("no policy test that group:ml-readers is allowed" in w for w in plan.warnings)
    assert_tests_pass(plan)


def test_a_simple_posture_gets_its_accept_test(tmp_path: Path) -> None:
    base = {"postures": {"posture:linux": ["node:os == 'linux'"]}}
    access = [{"src": ["group:ml-readers"], "kubernetesGroups": ["tailnet-readers"],
               "posture": ["posture:linux"]}]
    plan = plan_with(base, tmp_path, access=access)
    assert {"src": "group:ml-readers", "accept": ["tag:k8s-operator:443"],
            "srcPostureAttrs": {"node:os": "linux"}} in written_tests(plan)
    assert_tests_pass(plan)


def test_undecidable_base_tests_are_warnings(tmp_path: Path) -> None:
    base = {"tests": [{"src": "bob@example.com", "accept": ["tag:ci:22"]}],
            "tagOwners": {"tag:ci": []},
            "acls": [{"action": "accept", "src": ["autogroup:admin"], "dst": ["tag:ci:22"]}]}
    plan = plan_with(base, tmp_path)
    assert any("not checked offline" in w and "undecidable" in w for w in plan.warnings)


# -- merge CLI and fleet -------------------------------------------------------------------


def run_merge(tmp_path: Path, base: dict[str, Any], fragment: dict[str, Any]
              ) -> tuple[int, str, str]:
    paths = []
    for name, value in (("base", base), ("team", fragment)):
        path = tmp_path / f"{name}.hujson"
        path.write_text(json.dumps(value))
        paths.append(str(path))
    out, err = io.StringIO(), io.StringIO()
    code = main(["merge", "--base", *paths], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_merge_refuses_a_fragment_test_the_base_breaks(tmp_path: Path) -> None:
    fragment = plan_with({}, tmp_path).fragment
    code, out, err = run_merge(tmp_path, NEW_DEFAULT, fragment)
    assert code == 2, err
    assert not out
    assert "tag:tsrecorder deny tag:k8s-operator:443 fails" in err
    assert "grants[0] (base)" in err
    assert "team.hujson" in err  # whose test it is


def test_merge_passes_when_the_tests_hold(tmp_path: Path) -> None:
    fragment = plan_with(NEW_DEFAULT, tmp_path).fragment
    code, out, err = run_merge(tmp_path, NEW_DEFAULT, fragment)
    assert code == 0, err
    assert run_tests(hujson.parse(out).data).ok


def test_fleet_refuses_a_cluster_test_the_fleet_base_breaks(tmp_path: Path) -> None:
    from tailscale_cluster_access.core.fleet import cluster_stack_outputs, plan_fleet

    outputs = cluster_stack_outputs(plan_with({}, tmp_path, policy={"manage": False}))
    with pytest.raises(InvalidConfig) as raised:
        plan_fleet([("org/cluster/dev", outputs)], json.dumps(NEW_DEFAULT))
    message = raised.value.render()
    assert "tag:tsrecorder deny" in message and "grants[0] (base)" in message
    fleet = plan_fleet([("org/cluster/dev", outputs)], "{}")
    assert run_tests(fleet.merged).ok


def test_base_rules_reaching_the_endpoint_are_warned_about(tmp_path: Path) -> None:
    base = {"acls": [{"action": "accept", "src": ["group:sre"], "dst": ["tag:k8s-operator:443"]}],
            "groups": {"group:sre": ["carol@example.com"]}}
    plan = plan_with(base, tmp_path)
    assert any("lets group:sre reach the API server proxy tag:k8s-operator:443 through "
               "acls[0] (base)" in w for w in plan.warnings), plan.warnings
    # The stack's own rules are not reported.
    assert not any("group:ml-readers reach" in w for w in plan.warnings)


# -- the ProxyGroup's own tag ----------------------------------------------------------------


def test_the_proxy_group_has_its_own_tag_owned_by_the_operator(tmp_path: Path) -> None:
    plan = plan_with({}, tmp_path, "prod")
    assert plan.spec.endpoint_tag == "tag:k8s-apiserver"
    assert plan.fragment["tagOwners"]["tag:k8s-apiserver"] == ["tag:k8s-operator"]
    assert plan.fragment["autoApprovers"] == {
        "services": {"tag:k8s-apiserver": ["tag:k8s-apiserver"]}}
    assert {tuple(g["dst"]) for g in plan.fragment["grants"] if "app" in g} == {
        ("tag:k8s-apiserver",)}
    # tags.proxy stays the other proxies' tag: nothing here opens it.
    assert "tag:k8s:" not in json.dumps(plan.fragment["acls"])
    assert not any("tags.proxyGroup is tags.proxy" in w for w in plan.warnings)
    assert_tests_pass(plan)


def test_in_process_proxy_needs_no_proxy_group_tag(tmp_path: Path) -> None:
    plan = plan_with({}, tmp_path, "dev")
    assert "tag:k8s-apiserver" not in json.dumps(plan.fragment)


def test_proxy_group_tag_equal_to_the_proxy_tag_is_warned_about(tmp_path: Path) -> None:
    plan = plan_with({}, tmp_path, "prod", tags={"proxy": "tag:k8s", "proxyGroup": "tag:k8s"})
    assert plan.spec.endpoint_tag == "tag:k8s"
    assert any("tags.proxyGroup is tags.proxy (tag:k8s)" in w and "every proxy" in w
               for w in plan.warnings), plan.warnings


def test_proxy_group_tag_equal_to_the_operator_tag_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig) as raised:
        plan_with({}, tmp_path, "prod", tags={"proxyGroup": "tag:k8s-operator"})
    assert "tags.proxyGroup" in raised.value.render()


def test_per_cluster_scheme_gives_the_proxy_group_a_cluster_tag(tmp_path: Path) -> None:
    plan = plan_with({}, tmp_path, "prod", tagScheme="per-cluster")
    assert plan.spec.tags.proxy_group == "tag:k8s-apiserver-gpu-prod"
    assert plan.spec.endpoint_tag == "tag:k8s-apiserver-gpu-prod"


LEGACY_BASE = {"groups": {"group:sre": ["carol@example.com"]},
               "acls": [{"action": "accept", "users": ["group:sre"], "ports": ["tag:ci:22"]}]}


def test_merge_writes_a_fragment_s_rules_in_a_legacy_base_s_syntax(tmp_path: Path) -> None:
    fragment = plan_with({}, tmp_path).fragment
    code, out, err = run_merge(tmp_path, LEGACY_BASE, fragment)
    assert code == 0, err
    merged = hujson.parse(out).data
    assert acls_style(merged) == "legacy"
    assert {"action": "accept", "users": ["group:ml-readers"],
            "ports": ["tag:k8s-operator:443"], "proto": "tcp"} in merged["acls"]
    assert run_tests(merged).ok


def test_fleet_writes_cluster_rules_in_a_legacy_base_s_syntax(tmp_path: Path) -> None:
    from tailscale_cluster_access.core.fleet import cluster_stack_outputs, plan_fleet

    outputs = cluster_stack_outputs(plan_with({}, tmp_path, policy={"manage": False}))
    fleet = plan_fleet([("org/cluster/dev", outputs)], json.dumps(LEGACY_BASE))
    assert acls_style(fleet.merged) == "legacy"
    assert run_tests(fleet.merged).ok
