"""Issue 28: `breakGlass`, a way in while the recorder is down, refused unless the merged policy
(the evaluator's union of every grant that matches the source) leaves it without
`enforceRecorder`.

Fact (transcribed): tailscale/tailscale `k8s-operator/api-proxy/proxy.go`,
`determineRecorderConfig` (operator 1.94.1 and later): the kubernetes capability values of every
matching grant are unioned; one `enforceRecorder` makes the caller fail closed.
"""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT_ROOT, plan_config, stack_config
from tailscale_cluster_access.core.cluster_plan import ClusterPlan, plan_cluster
from tailscale_cluster_access.core.policy import hujson
from tailscale_cluster_access.core.problems import InvalidConfig

CAPABILITY = "tailscale.com/cap/kubernetes"
BASE = hujson.parse_data((PROJECT_ROOT / "policies" / "base.hujson").read_text(), "base")
ONCALL = {"src": ["group:oncall"], "kubernetesGroups": ["system:masters"],
          "posture": ["posture:latest"]}


def config(break_glass: dict[str, Any], *, oncall: list[str] | None = None,
           base_grants: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Dev with both rules recorded and enforced (one replica), and `break_glass`."""
    result = copy.deepcopy(stack_config("dev"))
    result["groups"] = {**result["groups"], "group:oncall": oncall or ["carol@example.com"]}
    result["postures"] = {"posture:latest": ["node:tsReleaseTrack == 'stable'"]}
    result["access"] = [{**rule, "recordSessions": True} for rule in result["access"]]
    result["sessionRecording"] = {"enabled": True}
    result["breakGlass"] = break_glass
    if base_grants is not None:
        result["policy"] = {"baseText": json.dumps({**BASE, "grants": base_grants})}
    return result


def planned(break_glass: dict[str, Any], **kwargs: Any) -> ClusterPlan:
    return plan_cluster(config(break_glass, **kwargs), PROJECT_ROOT)


def refusal(break_glass: dict[str, Any], **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidConfig) as raised:
        planned(break_glass, **kwargs)
    return [(problem.key, problem.message) for problem in raised.value.problems]


def test_break_glass_is_a_grant_and_network_rule_without_recording_with_its_posture() -> None:
    plan = planned(ONCALL)
    (grant,) = [grant for grant in plan.fragment["grants"] if grant["src"] == ["group:oncall"]]
    assert grant["app"][CAPABILITY] == [{"impersonate": {"groups": ["system:masters"]}}]
    assert grant["srcPosture"] == ["posture:latest"]
    (acl,) = [acl for acl in plan.fragment["acls"] if acl["src"] == ["group:oncall"]]
    assert acl["dst"] == ["tag:k8s-operator:443"] and acl["srcPosture"] == ["posture:latest"]
    assert {"src": "group:oncall", "accept": ["tag:k8s-operator:443"],
            "srcPostureAttrs": {"node:tsReleaseTrack": "stable"}} in plan.fragment["tests"]


def test_break_glass_is_its_own_row_that_does_not_fail_closed() -> None:
    plan = planned(ONCALL)
    rows = {row.src: row.to_json() for row in plan.access}
    assert rows["group:oncall"]["kind"] == "break-glass"
    assert rows["group:oncall"]["failsClosed"] is False
    assert rows["group:oncall"]["posture"] == ["posture:latest"]
    assert rows["group:ml-engineers"]["failsClosed"] is True
    # The warning that nobody could repair the recorder is gone: break-glass is a way in.
    assert not [w for w in plan.warnings if "nobody can use the cluster" in w]
    assert not [w for w in plan.warnings if "group:oncall" in w]


def test_a_break_glass_member_in_an_enforcing_group_is_refused_naming_the_grant() -> None:
    ((key, message),) = refusal(ONCALL, oncall=["alice@example.com"])
    assert key == "breakGlass.src[0]"
    assert "this stack's grant for group:ml-engineers" in message
    assert "fail closed" in message


def test_an_enforcing_base_grant_to_every_member_is_refused_by_union() -> None:
    everyone = {"src": ["autogroup:member"], "dst": ["tag:k8s-operator"], "app": {CAPABILITY: [
        {"recorder": ["tag:tsrecorder"], "enforceRecorder": True}]}}
    grants = [*BASE.get("grants", []), everyone]
    ((key, message),) = refusal(ONCALL, base_grants=grants)
    assert key == "breakGlass.src[0]"
    assert f"base grants[{len(grants) - 1}] for autogroup:member" in message


def test_an_enforcing_grant_behind_a_posture_still_refuses_break_glass() -> None:
    # A device may meet the posture: then the enforcing grant applies and is unioned in.
    behind = {"src": ["group:oncall"], "dst": ["tag:k8s-operator"], "srcPosture":
              ["posture:latest"], "app": {CAPABILITY: [{"enforceRecorder": True}]}}
    ((key, _),) = refusal(ONCALL, base_grants=[*BASE.get("grants", []), behind])
    assert key == "breakGlass.src[0]"


def test_a_recording_grant_that_does_not_enforce_leaves_break_glass_open() -> None:
    recorded_only = {"src": ["group:oncall"], "dst": ["tag:k8s-operator"], "app": {
        CAPABILITY: [{"recorder": ["tag:tsrecorder"], "enforceRecorder": False}]}}
    plan = planned(ONCALL, base_grants=[*BASE.get("grants", []), recorded_only])
    (row,) = [row for row in plan.access if row.src == "group:oncall"]
    assert row.kind == "break-glass" and row.recorded and not row.fails_closed


@pytest.mark.parametrize(("break_glass", "key"), [
    ({**ONCALL, "posture": ["posture:unknown"]}, "breakGlass.posture[0]"),
    ({**ONCALL, "src": ["group:nobody"]}, "breakGlass.src[0]"),
    ({**ONCALL, "src": ["tag:k8s-operator"]}, "breakGlass.src[0]"),
    ({"src": ["group:oncall"]}, "breakGlass.kubernetesGroups"),
])
def test_break_glass_is_checked_like_an_access_rule(break_glass: dict[str, Any],
                                                     key: str) -> None:
    assert [problem_key for problem_key, _ in refusal(break_glass)] == [key]


def test_the_plan_summary_shows_break_glass(tmp_path: Path) -> None:
    plan_config(tmp_path, "glass", config(ONCALL))
    summary = (tmp_path / "glass" / "summary.md").read_text()
    assert "**Break-glass**" in summary
    row = next(line for line in summary.splitlines() if line.startswith("| group:oncall |"))
    # Recorded, Enforced, Fails closed: no, no, no; then its posture.
    assert "| no | no | no | posture:latest | stack |" in row
    assert ("Break-glass: group:oncall can reach the cluster while the recorder is down "
            "(2 row(s) fail closed then)") in summary
    access = json.loads((tmp_path / "glass" / "access.json").read_text())
    assert [row["kind"] for row in access if row["src"] == "group:oncall"] == ["break-glass"]


def test_break_glass_without_a_posture_warns() -> None:
    plan = planned({"src": ["group:oncall"], "kubernetesGroups": ["system:masters"]})
    assert [w for w in plan.warnings if "group:oncall" in w] == [
        "gpu-dev: break-glass group:oncall has no posture: any device of theirs gets in "
        "unrecorded (set breakGlass.posture, e.g. posture:latest)."]


def test_an_enforcing_grant_the_evaluator_cannot_decide_refuses_break_glass() -> None:
    # An address range may hold the break-glass devices: the proxy would union it in.
    by_address = {"src": ["100.64.0.0/10"], "dst": ["tag:k8s-operator"], "app": {CAPABILITY: [
        {"enforceRecorder": True}]}}
    grants = [*BASE.get("grants", []), by_address]
    ((key, message),) = refusal(ONCALL, base_grants=grants)
    assert key == "breakGlass.src[0]"
    assert f"base grants[{len(grants) - 1}] for 100.64.0.0/10" in message
