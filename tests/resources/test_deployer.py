"""The deployer in the stack program: its binding, its row, deployKubeconfig and lockdown."""

from collections.abc import Callable
from pathlib import Path

import yaml
from conftest import plan_config, stack_config
from tailscale_cluster_access.offline import ProgramRun

BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
DEPLOYER = {"deployer": {}, "tailnetDomain": "tailxyz.ts.net"}


def test_deployer_gets_its_binding_row_and_kubeconfig(
        run_stack: Callable[..., ProgramRun]) -> None:
    run = run_stack("dev", DEPLOYER)
    (binding,) = [r for r in run.by_type(BINDING)
                  if r.inputs["metadata"]["name"] == "tailnet-deployers-cluster-admin"]
    assert binding.inputs["subjects"] == [{"kind": "Group", "name": "tailnet-deployers",
                                           "apiGroup": "rbac.authorization.k8s.io"}]
    assert binding.inputs["roleRef"]["name"] == "cluster-admin"
    (row,) = [r for r in run.outputs["accessMatrix"] if r["kind"] == "deployer"]
    assert row["src"] == "tag:ci" and "cluster-admin" in row["sensitiveRights"]

    kubeconfig = yaml.safe_load(run.outputs["deployKubeconfig"])
    server = "https://tailscale-operator.tailxyz.ts.net"
    assert kubeconfig["clusters"][0]["cluster"]["server"] == server
    assert kubeconfig["current-context"] == "tailscale-operator.tailxyz.ts.net"

    reasons = run.outputs["lockdown"]["notReadyBecause"]
    assert not any("deployer" in reason for reason in reasons)
    assert any("break-glass" in reason for reason in reasons)


def test_no_deployer_no_kubeconfig_and_the_bindings_stay(
        run_stack: Callable[..., ProgramRun]) -> None:
    run = run_stack("dev")
    assert "deployKubeconfig" not in run.outputs
    assert run.outputs["lockdown"]["ready"] is False
    names = {r.inputs["metadata"]["name"] for r in run.by_type(BINDING)}
    assert "tailnet-deployers-cluster-admin" not in names


def test_plan_summary_shows_the_deployer_and_lockdown(tmp_path: Path) -> None:
    config = {**stack_config("dev"), **DEPLOYER}
    plan_config(tmp_path, "deploy", config)
    summary = (tmp_path / "deploy" / "summary.md").read_text()
    assert "**The deployer (`pulumi up` through the tailnet)**" in summary
    assert "### Lockdown" in summary
    assert "no break-glass path" in summary
    assert "`vpc_config.endpoint_private_access=true, vpc_config.endpoint_public_access=false`" \
        in summary
    assert "| `lockdown` | not ready (see Lockdown) |" in summary
    assert ("| `deployKubeconfig` | kubeconfig for `https://tailscale-operator.tailxyz.ts.net` "
            "(`pulumi stack output deployKubeconfig`) |") in summary
