"""The safe rollout of session recording: the recorder first, then the rules that record; and
what a preview says when one change creates the recorder while rules enforce recording."""

import copy
from typing import Any

from conftest import PROJECT_ROOT, StateMocks, run_config, stack_config
from tailscale_cluster_access.core.cluster_plan import plan_cluster
from tailscale_cluster_access.offline import ProgramRun

RECORDER = "kubernetes:tailscale.com/v1alpha1:Recorder"
SAME_CHANGE = "this change creates or replaces the Recorder while access rules record sessions"


def prod(**changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(stack_config("prod"))
    config.update(changes)
    return config


def without_recorded_rules(config: dict[str, Any]) -> dict[str, Any]:
    config["access"] = [{key: value for key, value in rule.items() if key != "recordSessions"}
                        for rule in config["access"]]
    return config


def warnings(run: ProgramRun) -> list[str]:
    return [text for level, text in run.messages if level == "warning"]


def test_a_recorder_without_recording_rules_is_the_first_step_and_only_warned() -> None:
    plan = plan_cluster(without_recorded_rules(prod()), PROJECT_ROOT)
    assert plan.spec.session_recording.enabled
    assert any("a recorder is deployed but no access rule records sessions yet" in warning
               for warning in plan.warnings)


def test_step_one_deploys_the_recorder_and_the_grants_do_not_enforce_it_yet() -> None:
    run = run_config(without_recorded_rules(prod()), stack="prod")
    assert run.one(RECORDER)
    acl = run.one("tailscale:index/acl:Acl").inputs["acl"]
    assert "enforceRecorder" not in acl
    assert not any(SAME_CHANGE in text for text in warnings(run))


def test_step_two_on_a_running_recorder_is_quiet() -> None:
    """Second run: the recorder exists (its ID is in the state); adding the rules is safe."""
    run = run_config(prod(), stack="prod", program_mocks=StateMocks({RECORDER}))
    assert "enforceRecorder" in run.one("tailscale:index/acl:Acl").inputs["acl"]
    assert not any(SAME_CHANGE in text for text in warnings(run))


def test_recorder_and_enforced_rules_in_one_change_warn_of_the_403s() -> None:
    run = run_config(prod(), stack="prod", program_mocks=StateMocks(set()))
    [warning] = [text for text in warnings(run) if SAME_CHANGE in text]
    assert "every API request through the proxy from group:ml-engineers (access[0]) gets 403" \
        in warning
    assert "deploy the recorder first" in warning


def test_without_enforce_sessions_proceed_and_nothing_is_said() -> None:
    recording = {**prod()["sessionRecording"], "enforce": False}
    run = run_config(prod(sessionRecording=recording), stack="prod",
                     program_mocks=StateMocks(set()))
    assert not any(SAME_CHANGE in text for text in warnings(run))
