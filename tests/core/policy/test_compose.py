"""The one composition pipeline: what it refuses, how it aligns acls syntax, and that every
program writes exactly the policy its plan verified (the cluster stacks and `merge` here, the
fleet program in tests/core/test_fleet.py)."""

import io
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT_ROOT, STACKS, run_config, stack_config
from tailscale_cluster_access import merge_policies, plan_cluster
from tailscale_cluster_access.core.policy import hujson
from tailscale_cluster_access.core.policy.compose import compose
from tailscale_cluster_access.core.policy.evaluate import acls_style, run_tests
from tailscale_cluster_access.core.policy.ownership import with_writer
from tailscale_cluster_access.core.problems import InvalidConfig
from tailscale_cluster_access.offline.cli import main

ACL = "tailscale:index/acl:Acl"
BASE_FILE = PROJECT_ROOT / "policies" / "base.hujson"
NEW_STYLE_RULE = '"src": ["group:sre"],\n\t\t\t"dst": ["tag:ci:22"],'
LEGACY_RULE = '"users": ["group:sre"],\n\t\t\t"ports": ["tag:ci:22"],'
FRAGMENT = {"groups": {"group:ml": ["alice@example.com"]},
            "tagOwners": {"tag:k8s": []},
            "acls": [{"action": "accept", "src": ["group:ml"], "dst": ["tag:k8s:443"],
                      "proto": "tcp"}],
            "tests": [{"src": "group:ml", "accept": ["tag:k8s:443"]}]}


def legacy_base_text() -> str:
    """The project's base policy with its acls in the legacy users/ports syntax."""
    text = BASE_FILE.read_text()
    assert NEW_STYLE_RULE in text
    return text.replace(NEW_STYLE_RULE, LEGACY_RULE)


@pytest.fixture(params=["base", "legacy base"])
def base_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "base":
        return BASE_FILE
    path = tmp_path / "legacy.hujson"
    path.write_text(legacy_base_text())
    return path


def written_acl(config: dict[str, Any], stack: str) -> str:
    acl = run_config(config, stack=stack).one(ACL).inputs["acl"]
    assert isinstance(acl, str)
    return acl


@pytest.mark.parametrize("stack", STACKS)
def test_each_cluster_stack_writes_the_policy_its_plan_verified(stack: str,
                                                                 base_file: Path) -> None:
    config = stack_config(stack)
    config["policy"] = {**config["policy"], "base": str(base_file)}
    plan = plan_cluster(config, PROJECT_ROOT)
    written = written_acl(config, stack)
    # The written policy is the verified one, its ownership lines naming the stack.
    assert written == with_writer(plan.composed.text,
                                  f"organization/tailscale-cluster-access/{stack}")
    data = hujson.parse(written).data
    assert data == plan.composed.data
    assert acls_style(data) == acls_style(hujson.parse(base_file.read_text()).data)
    assert run_tests(data).ok


def run_merge(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["merge", *argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_merge_writes_the_policy_it_verified_over_a_legacy_base(tmp_path: Path) -> None:
    base = tmp_path / "base.hujson"
    base.write_text(legacy_base_text())
    fragment = tmp_path / "gpu.hujson"
    fragment.write_text(hujson.dumps(FRAGMENT))
    code, out, err = run_merge("--base", str(base), str(fragment))
    assert code == 0, err
    verified = compose(base.read_text(), [(str(fragment), FRAGMENT)],
                       labels={str(fragment): "gpu"})
    assert not verified.problems
    assert out == verified.text
    written = hujson.parse(out).data
    assert acls_style(written) == "legacy"
    assert {"action": "accept", "users": ["group:ml"], "ports": ["tag:k8s:443"],
            "proto": "tcp"} in written["acls"]
    assert run_tests(written).ok


def test_fragments_take_the_base_s_acls_syntax_either_way() -> None:
    legacy_fragment = {"acls": [{"action": "accept", "users": ["group:ml"],
                                 "ports": ["tag:k8s:443"]}]}
    composed = compose('{"acls": [{"action": "accept", "src": ["*"], "dst": ["tag:x:22"]}]}',
                       [("gpu", legacy_fragment)])
    assert composed.data["acls"][1] == {"action": "accept", "src": ["group:ml"],
                                        "dst": ["tag:k8s:443"]}
    assert composed.fragments[0][1]["acls"] == [composed.data["acls"][1]]


def test_a_base_mixing_both_syntaxes_is_refused_naming_the_base() -> None:
    mixed = ('{"acls": [{"action": "accept", "src": ["*"], "dst": ["tag:x:22"]},'
             ' {"action": "accept", "users": ["*"], "ports": ["tag:y:22"]}]}')
    composed = compose(mixed, [("gpu", FRAGMENT)], base_source="base.hujson")
    assert [problem.key for problem in composed.problems] == ["base.hujson"]
    assert "mix old-style" in composed.problems[0].message


def test_conflicts_and_failing_tests_are_problems_under_the_key_given() -> None:
    base = '{"groups": {"group:ml": ["bob@example.com"]}}'
    conflicting = compose(base, [("gpu", FRAGMENT)], key="policy.base")
    assert [problem.key for problem in conflicting.problems] == ["policy.base"]
    assert "group:ml" in conflicting.problems[0].message
    assert len(conflicting.conflicts) == 1
    failing = {**FRAGMENT, "tests": [{"src": "group:ml", "deny": ["tag:k8s:443"]}]}
    refused = compose("{}", [("gpu", failing)])
    assert refused.conflicts == ()
    assert [problem.key for problem in refused.problems] == ["policy"]
    assert "tests[0] (gpu)" in refused.problems[0].message


def test_the_base_text_is_kept_and_the_ownership_record_written() -> None:
    composed = compose(BASE_FILE.read_text(), [("gpu", FRAGMENT)])
    assert not composed.problems
    assert "// SRE keeps SSH to the CI runners." in composed.text
    assert "// gpu: added by tailscale-cluster-access" in composed.text
    assert composed.text.startswith("// tailscale-cluster-access owns: ")
    assert hujson.parse(composed.text).data == composed.data


def test_decided_tests_join_the_one_merge_and_see_its_rules() -> None:
    seen: list[int] = []

    def decide(model: Any) -> list[dict[str, Any]]:
        seen.append(len(model.rules))
        return [{"src": "group:ml", "accept": ["tag:k8s:443"]}]

    sections = {key: value for key, value in FRAGMENT.items() if key != "tests"}
    composed = compose(BASE_FILE.read_text(), [("gpu", sections)], decide_tests=decide)
    assert not composed.problems
    # The base's SSH rule and the fragment's rule: both merged before the tests are decided.
    assert seen == [2]
    assert composed.fragments[0][1]["tests"] == [{"src": "group:ml",
                                                  "accept": ["tag:k8s:443"]}]
    assert composed.data["tests"][-1] == {"src": "group:ml", "accept": ["tag:k8s:443"]}
    assert composed.origins("tests", len(composed.data["tests"]) - 1) == "gpu"


@pytest.mark.parametrize(("fragments", "keys"), [
    ([("a", None)], ["fragments[0]"]),
    ([None], ["fragments[0]"]),
    ([("a", {}), ("a", {"groups": {}})], ["fragments[1]"]),
    ([("a", {}), (1, {})], ["fragments[1]"]),
])
def test_merge_policies_refuses_malformed_fragments_naming_each(
        fragments: Any, keys: list[str]) -> None:
    with pytest.raises(InvalidConfig) as raised:
        merge_policies({}, fragments)
    assert [problem.key for problem in raised.value.problems] == keys
    assert all(problem.fix for problem in raised.value.problems)
    assert "Traceback" not in str(raised.value)


def test_compose_reports_malformed_fragments_as_problems() -> None:
    composed = compose("{}", [("a", {}), ("a", {"groups": {}})])
    assert [problem.key for problem in composed.problems] == ["fragments[1]"]
    assert "unique" in composed.problems[0].message


def test_a_fragment_s_tests_on_names_another_writer_defines_are_warnings_not_failures() -> None:
    fragment = {"tests": [{"src": "group:ml-engineers", "accept": ["tag:k8s-operator:443"]}]}
    complete = compose("", [("gpu", fragment)])
    partial = compose("", [("gpu", fragment)], complete=False)
    assert [p.message for p in complete.problems] == [
        "tests[0] (gpu): src: group:ml-engineers is not defined in groups"]
    assert partial.problems == []
    assert any("group:ml-engineers is not defined in groups here" in w for w in partial.warnings)
