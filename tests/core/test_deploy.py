"""Deploying through the tailnet: the deployer's policy entries, binding, row and kubeconfig.

The kubeconfig is compared with what `tailscale configure kubeconfig <host>` writes
(tailscale/tailscale `cmd/tailscale/cli/configure-kube.go`, `updateKubeconfig`, read at commit
0f3a292e): cluster and context named by the FQDN, server `https://<fqdn>`, user
`tailscale-auth` with token `unused`, current-context the FQDN.
"""

import copy
from typing import Any

import pytest
import yaml
from conftest import PROJECT_ROOT, stack_config
from hypothesis import given
from hypothesis import strategies as st
from tailscale_cluster_access.core.cluster_plan import ClusterPlan, plan_cluster
from tailscale_cluster_access.core.deploy import deploy_kubeconfig
from tailscale_cluster_access.core.problems import InvalidConfig


def planned(**changes: Any) -> ClusterPlan:
    config = copy.deepcopy(stack_config("dev"))
    config.update(changes)
    return plan_cluster(config, PROJECT_ROOT)


def row_of(plan: ClusterPlan, src: str) -> dict[str, Any]:
    (row,) = [row.to_json() for row in plan.access if row.src == src]
    return row


def test_deployer_tag_is_owned_like_the_operator_tag_unless_the_base_owns_it() -> None:
    # The dev base policy already has tagOwners["tag:ci"]: its owners stay, no conflict.
    assert "tag:ci" not in planned(deployer={}).fragment["tagOwners"]
    assert planned(deployer={}).merged["tagOwners"]["tag:ci"] == ["group:sre"]
    assert planned(deployer={"tag": "tag:deploy"}).fragment["tagOwners"]["tag:deploy"] == []


def test_deployer_defaults_reach_the_endpoint_with_their_own_grant() -> None:
    plan = planned(deployer={})
    fragment = plan.fragment
    endpoint = plan.spec.endpoint_tag
    assert {"src": ["tag:ci"], "dst": [endpoint],
            "app": {"tailscale.com/cap/kubernetes": [
                {"impersonate": {"groups": ["tailnet-deployers"]}}]}} in fragment["grants"]
    assert {"action": "accept", "src": ["tag:ci"], "dst": [f"{endpoint}:443"],
            "proto": "tcp"} in fragment["acls"]
    assert {"src": "tag:ci", "accept": [f"{endpoint}:443"]} in fragment["tests"]


def test_deployer_row_shows_the_rights_of_its_role() -> None:
    row = row_of(planned(deployer={}), "tag:ci")
    assert row["kind"] == "deployer"
    assert row["kubernetesGroups"] == ["tailnet-deployers"]
    assert "cluster-admin" in row["clusterRoles"]
    assert "cluster-admin" in row["sensitiveRights"]
    assert row["recorded"] is False and row["enforced"] is False

    narrow = row_of(planned(deployer={"tag": "tag:deploy", "kubernetesGroups": ["ci-edit"],
                                      "clusterRole": "edit"}), "tag:deploy")
    assert narrow["kind"] == "deployer"
    assert "edit" in narrow["clusterRoles"] and "cluster-admin" not in narrow["clusterRoles"]
    assert "cluster-admin" not in narrow["sensitiveRights"]
    assert narrow["sensitiveRights"]


def test_without_a_deployer_nothing_of_it_is_planned() -> None:
    plan = planned()
    assert "tag:ci" not in plan.fragment["tagOwners"]
    assert all(row.kind != "deployer" for row in plan.access)
    assert plan.spec.all_role_bindings == plan.spec.role_bindings


def test_deployer_binding_is_not_added_twice() -> None:
    given_binding = {"group": "tailnet-deployers", "clusterRole": "cluster-admin"}
    plan = planned(deployer={}, roleBindings=[given_binding])
    assert [b.name for b in plan.spec.all_role_bindings] == ["tailnet-deployers-cluster-admin"]


def test_bad_deployer_settings_are_all_named() -> None:
    config = copy.deepcopy(stack_config("dev"))
    config["deployer"] = {"tag": "ci", "kubernetesGroups": ["bad group"],
                          "clusterRole": "no spaces"}
    with pytest.raises(InvalidConfig) as raised:
        plan_cluster(config, PROJECT_ROOT)
    keys = {problem.key for problem in raised.value.problems}
    assert {"deployer.tag", "deployer.kubernetesGroups[0]", "deployer.clusterRole"} <= keys


@given(st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){1,3}", fullmatch=True))
def test_kubeconfig_is_the_one_tailscale_configure_kubeconfig_writes(fqdn: str) -> None:
    written = deploy_kubeconfig(f"https://{fqdn}")
    assert yaml.safe_load(written) == {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": fqdn, "cluster": {"server": f"https://{fqdn}"}}],
        "contexts": [{"name": fqdn, "context": {"cluster": fqdn, "user": "tailscale-auth"}}],
        "users": [{"name": "tailscale-auth", "user": {"token": "unused"}}],
        "current-context": fqdn,
    }


def test_deployer_is_a_client_with_groups() -> None:
    config = copy.deepcopy(stack_config("dev"))
    config["deployer"] = {"tag": "tag:k8s-operator", "kubernetesGroups": []}
    with pytest.raises(InvalidConfig) as raised:
        plan_cluster(config, PROJECT_ROOT)
    problems = {problem.key: problem.message for problem in raised.value.problems}
    assert "own operator tag" in problems["deployer.tag"]
    assert problems["deployer.kubernetesGroups"] == "must not be empty."


def test_system_masters_deployer_needs_no_binding() -> None:
    plan = planned(deployer={"kubernetesGroups": ["system:masters"]})
    assert all(b.group != "system:masters" for b in plan.spec.all_role_bindings)
    assert "cluster-admin" in row_of(plan, "tag:ci")["sensitiveRights"]
