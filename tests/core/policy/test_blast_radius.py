"""Issue 28: what a recorder outage does, said by the plan before it happens.

Facts the expectations rest on (transcribed; tailscale/tailscale `k8s-operator/api-proxy/
proxy.go`, `serveDefault` and `determineRecorderConfig`, in v1.94.1 (cherry-pick 77af25718 of
#18393) and later; v1.94.0 has no `EnableEvents` on a grant):
- the `tailscale.com/cap/kubernetes` values of every grant matching a caller are unioned: any
  `enforceRecorder` makes the caller fail closed, any `enableEvents` turns events on;
- failing closed with no recorder address: every API request gets 403, not only exec/attach;
- `enableEvents`: each request is sent to the recorder first; an unreachable recorder gives
  502 when enforced, and the request goes on unrecorded after the attempt when not.
- the Recorder CRD: `replicas` > 1 needs `storage.s3`.
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
ENGINEERS = {"src": ["group:ml-engineers"], "kubernetesGroups": ["system:masters"]}
READERS = {"src": ["group:ml-readers"], "kubernetesGroups": ["tailnet-readers"]}
S3 = {"endpoint": "s3.us-east-1.amazonaws.com", "bucket": "recordings"}


def planned(*access: dict[str, Any], base_grants: list[dict[str, Any]] | None = None,
            **changes: Any) -> ClusterPlan:
    config = {**copy.deepcopy(stack_config("dev")), "access": list(access), **changes}
    if base_grants is not None:
        config["policy"] = {"baseText": json.dumps({**BASE, "grants": base_grants})}
    return plan_cluster(config, PROJECT_ROOT)


def recorded(rule: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**rule, "recordSessions": True, **extra}


def about(plan: ClusterPlan, words: str) -> list[str]:
    return [warning for warning in plan.warnings if words in warning]


def test_an_enforcing_grant_with_one_recorder_replica_warns_naming_the_rule() -> None:
    plan = planned(recorded(ENGINEERS), READERS, sessionRecording={"enabled": True})
    (warning,) = about(plan, "single recorder replica")
    assert "group:ml-engineers (access[0])" in warning
    assert "403" in warning and "not only exec" in warning
    assert "without S3" in warning and "group:ml-readers" not in warning


def test_two_replicas_with_s3_do_not_warn_about_the_replica() -> None:
    plan = planned(recorded(ENGINEERS), READERS,
                   sessionRecording={"enabled": True, "replicas": 2, "s3": S3})
    assert about(plan, "single recorder replica") == []
    assert about(plan, "fails closed") == []


def test_recording_without_enforcement_does_not_fail_closed() -> None:
    plan = planned(recorded(ENGINEERS), sessionRecording={"enabled": True, "enforce": False})
    assert not any(row.fails_closed for row in plan.access)
    assert about(plan, "single recorder replica") == [] and about(plan, "fails closed") == []


def test_an_enforcing_base_grant_makes_the_stacks_rule_fail_closed_by_union() -> None:
    enforcing = {"src": ["autogroup:member"], "dst": ["tag:k8s-operator"], "app": {CAPABILITY: [
        {"recorder": ["tag:tsrecorder"], "enforceRecorder": True}]}}
    plan = planned(ENGINEERS, READERS, base_grants=[*BASE.get("grants", []), enforcing],
                   sessionRecording={"enabled": True})
    rows = {row.src: row for row in plan.access}
    # Neither stack rule records, but the members' grant matches both groups' members.
    assert rows["group:ml-readers"].fails_closed and rows["group:ml-engineers"].fails_closed
    assert rows["group:ml-readers"].to_json()["failsClosed"] is True
    (warning,) = about(plan, "nobody can use the cluster")
    index = len(BASE.get("grants", []))
    assert f"autogroup:member (base grants[{index}])" in warning
    assert f"group:ml-readers (base grants[{index}], access[1])" in warning


def test_every_identity_failing_closed_warns_that_nobody_can_repair_the_recorder() -> None:
    plan = planned(recorded(ENGINEERS), recorded(READERS), sessionRecording={"enabled": True})
    assert all(row.fails_closed for row in plan.access if row.kind == "grant")
    (warning,) = about(plan, "nobody can use the cluster")
    assert "breakGlass" in warning


def test_one_way_in_without_enforcement_is_enough() -> None:
    plan = planned(recorded(ENGINEERS), READERS, sessionRecording={"enabled": True})
    assert about(plan, "nobody can use the cluster") == []


def test_enforced_recording_without_a_recorder_in_the_stack_warns() -> None:
    enforcing = {"src": ["group:ml-engineers"], "dst": ["tag:k8s-operator"], "app": {
        CAPABILITY: [{"recorder": ["tag:tsrecorder"], "enforceRecorder": True}]}}
    plan = planned(ENGINEERS, READERS, base_grants=[*BASE.get("grants", []), enforcing])
    (warning,) = about(plan, "deploys no recorder")
    index = len(BASE.get("grants", []))
    assert f"group:ml-engineers (base grants[{index}], access[0])" in warning


def test_api_request_recording_per_rule_sets_enable_events_on_that_grant_only() -> None:
    plan = planned(recorded(ENGINEERS, recordApiRequests=True), recorded(READERS),
                   sessionRecording={"enabled": True, "enforce": False})
    values = [grant["app"][CAPABILITY][0] for grant in plan.fragment["grants"]
              if "app" in grant]
    assert [value.get("enableEvents") for value in values] == [True, None]
    rows = {row.src: row for row in plan.access}
    assert rows["group:ml-engineers"].events and not rows["group:ml-readers"].events
    (warning,) = about(plan, "enableEvents")
    assert "latency" in warning and "go unrecorded" in warning and "502" not in warning


def test_enforced_api_request_recording_warns_of_502() -> None:
    plan = planned(recorded(ENGINEERS), READERS,
                   sessionRecording={"enabled": True, "recordApiRequests": True})
    (warning,) = about(plan, "enableEvents")
    assert "requests of group:ml-engineers (access[0]) get 502" in warning


@pytest.mark.parametrize(("changes", "key"), [
    ({"access": [recorded(ENGINEERS, recordApiRequests=True)],
      "operator": {"chartVersion": "1.94.0"}}, "access[0].recordApiRequests"),
    ({"access": [{**ENGINEERS, "recordApiRequests": True}]}, "access[0].recordApiRequests"),
])
def test_per_rule_api_request_recording_is_refused_where_it_cannot_work(
        changes: dict[str, Any], key: str) -> None:
    config = {**copy.deepcopy(stack_config("dev")), "sessionRecording": {"enabled": True},
              **changes}
    with pytest.raises(InvalidConfig) as raised:
        plan_cluster(config, PROJECT_ROOT)
    assert [problem.key for problem in raised.value.problems] == [key]


def test_api_request_recording_is_accepted_from_operator_1_94_1() -> None:
    plan = planned(recorded(ENGINEERS, recordApiRequests=True), READERS,
                   sessionRecording={"enabled": True}, operator={"chartVersion": "1.94.1"})
    assert any(row.events for row in plan.access)


def test_the_plan_and_its_summary_warn_about_one_enforced_replica(tmp_path: Path) -> None:
    config = {**copy.deepcopy(stack_config("dev")), "access": [recorded(ENGINEERS), READERS],
              "sessionRecording": {"enabled": True}}
    printed = plan_config(tmp_path, "one-replica", config)
    summary = (tmp_path / "one-replica" / "summary.md").read_text()
    assert "single recorder replica" in summary
    assert "Planned stack prod:" in printed
    table = (tmp_path / "one-replica" / "access.md").read_text()
    assert "| Recorded | Enforced | Fails closed |" in table
