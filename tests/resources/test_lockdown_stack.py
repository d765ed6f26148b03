"""stacks/Pulumi.locked.yaml: a stack ready to close the public API endpoint (issue 28)."""

import yaml
from conftest import run_config, stack_config


def test_the_locked_stack_has_both_ways_in_a_kubeconfig_and_is_ready() -> None:
    run = run_config(stack_config("locked"), stack="locked")
    rows = run.outputs["accessMatrix"]
    kinds = {row["kind"]: row for row in rows}
    assert kinds["deployer"]["src"] == "tag:ci" and not kinds["deployer"]["failsClosed"]
    assert kinds["break-glass"]["src"] == "group:sre-oncall"
    assert not kinds["break-glass"]["failsClosed"]
    # The admin rule still fails closed: break-glass is the way in while the recorder is down.
    assert next(row for row in rows if row["src"] == "group:ml-engineers")["failsClosed"]
    kubeconfig = yaml.safe_load(run.outputs["deployKubeconfig"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://gpu-locked.tail0example.ts.net"
    lockdown = run.outputs["lockdown"]
    assert lockdown["ready"] is True, lockdown.get("notReadyBecause")
    assert lockdown["settings"]["eks"]["set"]["vpc_config.endpoint_public_access"] is False


def test_without_break_glass_the_same_stack_is_not_ready() -> None:
    config = {key: value for key, value in stack_config("locked").items() if key != "breakGlass"}
    lockdown = run_config(config, stack="locked").outputs["lockdown"]
    assert lockdown["ready"] is False
    assert any("break-glass" in reason for reason in lockdown["notReadyBecause"])
