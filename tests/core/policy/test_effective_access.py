"""Issue 25: the access matrix is what the MERGED policy and the cluster's RBAC give, as the
operator's API server proxy decides it, not only what the stack's own rules say.

Facts the expectations rest on (transcribed; sources named):
- tailscale/tailscale v1.102.3 `k8s-operator/api-proxy/proxy.go` (`addImpersonationHeaders`):
  every caller that reaches the proxy is impersonated, a user as its login name, a tagged device
  as its node name; groups from the `tailscale.com/cap/kubernetes` values of every matching
  grant, unioned; a tagged device without such groups gets its tags as groups.
- k8s.io/apiserver `pkg/endpoints/filters/impersonation.go`: the API server adds
  `system:authenticated` to an impersonated user.
- tailscale-operator chart v1.102.3 `templates/apiserverproxy-rbac.yaml`: ClusterRole
  `tailscale-auth-proxy` may impersonate every user and group, bound to the `operator` and
  `kube-apiserver-auth-proxy` ServiceAccounts.
"""

import copy
import json
from typing import Any

import pytest
from conftest import PROJECT_ROOT, stack_config
from tailscale_cluster_access.core.cluster_plan import plan_cluster
from tailscale_cluster_access.core.policy import hujson
from tailscale_cluster_access.core.policy.access import AccessRow, access_matrix
from tailscale_cluster_access.core.problems import InvalidConfig

CAPABILITY = "tailscale.com/cap/kubernetes"
OPERATOR = "tag:k8s-operator"
BASE = hujson.parse_data((PROJECT_ROOT / "policies" / "base.hujson").read_text(), "base")
MASTERS_FOR_MEMBERS = {"src": ["autogroup:member"], "dst": [OPERATOR], "ip": ["443"],
                       "app": {CAPABILITY: [{"impersonate": {"groups": ["system:masters"]}}]}}


def rows_with(base_changes: dict[str, Any], **config_changes: Any) -> dict[str, AccessRow]:
    """The dev stack's rows, its base policy (policies/base.hujson) changed as given."""
    base = {**copy.deepcopy(BASE), **base_changes}
    config = {**copy.deepcopy(stack_config("dev")), **config_changes}
    config["policy"] = {"baseText": json.dumps(base)}
    return {row.src: row for row in plan_cluster(config, PROJECT_ROOT).access}


def sre_to_the_proxy() -> list[dict[str, Any]]:
    return [*BASE["acls"], {"action": "accept", "src": ["group:sre"], "dst": [f"{OPERATOR}:443"]}]


def test_a_base_grant_to_autogroup_member_is_a_row_with_system_masters() -> None:
    rows = rows_with({"grants": [MASTERS_FOR_MEMBERS]})
    member = rows["autogroup:member"].to_json()
    assert member["kubernetesGroups"] == ["system:masters"]
    assert member["clusterRoles"] == ["cluster-admin"]
    assert "cluster-admin" in member["sensitiveRights"]
    assert member["origin"] == ["base grants[0]"]
    assert member["broad"] is True and member["kind"] == "grant"
    # The readers are members too: the proxy unites both grants for them.
    readers = rows["group:ml-readers"]
    assert readers.kubernetes_groups == ("system:masters", "tailnet-readers")
    assert readers.origin == ("base grants[0]", "stack")


def test_the_stacks_own_rows_are_unchanged_by_an_unrelated_base() -> None:
    rows = rows_with({})
    assert [row.src for row in rows.values() if row.kind == "grant"] == [
        "group:ml-engineers", "group:ml-readers"]
    assert rows["group:ml-readers"].to_json() | {"sensitiveRights": []} == {
        "src": "group:ml-readers", "endpoint": "tailscale-operator", "ports": [443],
        "kubernetesGroups": ["tailnet-readers"], "clusterRoles": ["view"],
        "sensitiveRights": [], "recorded": False, "enforced": False, "posture": [],
        "events": False, "failsClosed": False, "kind": "grant", "origin": ["stack"],
        "broad": False}


def test_capability_values_of_several_grants_are_unioned() -> None:
    recording = {"src": ["group:ml-readers"], "dst": [OPERATOR], "app": {CAPABILITY: [
        {"recorder": ["tag:tsrecorder"], "enforceRecorder": True, "enableEvents": True}]}}
    readers = rows_with({"grants": [recording]})["group:ml-readers"]
    assert readers.kubernetes_groups == ("tailnet-readers",)
    assert (readers.recorded, readers.enforced, readers.events) == (True, True, True)
    assert readers.origin == ("base grants[0]", "stack")


def test_a_source_with_a_network_path_but_no_grant_is_impersonated_as_itself() -> None:
    rows = rows_with({"acls": sre_to_the_proxy()},
                     roleBindings=[{"group": "tailnet-readers", "clusterRole": "view"},
                                   {"group": "system:authenticated", "clusterRole": "edit"}])
    sre = rows["group:sre"]
    assert sre.kind == "as-itself"
    assert sre.kubernetes_groups == ("system:authenticated",)
    assert sre.cluster_roles == ("edit",)
    assert "secrets:read" in sre.sensitive_rights
    assert sre.origin == ("base acls[1]",) and sre.ports == (443,)


def test_a_tagged_device_without_a_grant_gets_a_binding_to_its_tag() -> None:
    ci_to_proxy = {"action": "accept", "src": ["tag:ci"], "dst": [f"{OPERATOR}:443"]}
    rows = rows_with({"acls": [*BASE["acls"], ci_to_proxy]},
                     roleBindings=[{"group": "tailnet-readers", "clusterRole": "view"},
                                   {"group": "tag:ci", "clusterRole": "edit"}])
    ci = rows["tag:ci"]
    assert ci.kind == "tags-as-groups"
    assert ci.kubernetes_groups == ("tag:ci", "system:authenticated")
    assert ci.cluster_roles == ("edit",)
    assert "pods:exec" in ci.sensitive_rights
    assert ci.origin == ("base acls[1]",)


def test_a_binding_to_a_tag_reached_through_a_broad_rule_is_its_own_row() -> None:
    everyone = {"action": "accept", "src": ["*"], "dst": [f"{OPERATOR}:443"]}
    rows = rows_with({"acls": [*BASE["acls"], everyone]},
                     roleBindings=[{"group": "tailnet-readers", "clusterRole": "view"},
                                   {"group": "tag:ci", "clusterRole": "view"}])
    assert rows["*"].kind == "as-itself" and rows["*"].broad
    assert rows["tag:ci"].kind == "tags-as-groups"
    assert rows["tag:ci"].origin == ("base acls[1]",)


def test_a_grant_without_a_network_rule_is_capability_but_no_network_path() -> None:
    app_only = {"src": ["group:sre"], "dst": [OPERATOR],
                "app": {CAPABILITY: [{"impersonate": {"groups": ["system:masters"]}}]}}
    sre = rows_with({"grants": [app_only]})["group:sre"]
    assert sre.kind == "no-network-path"
    assert sre.kubernetes_groups == ("system:masters",)
    assert sre.sensitive_rights == [] and sre.ports == ()
    assert not sre.is_admin


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_operator_may_impersonate_anyone(stack: str) -> None:
    rows = plan_cluster(stack_config(stack), PROJECT_ROOT).access
    operator = next(row for row in rows if row.kind == "operator")
    assert operator.src == "tailscale/operator, tailscale/kube-apiserver-auth-proxy"
    assert operator.cluster_roles == ("tailscale-auth-proxy",)
    assert operator.is_admin and "impersonate" in operator.sensitive_rights
    assert operator.origin == ("chart 1.102.3 ClusterRole tailscale-auth-proxy",)


def test_the_old_capability_name_in_a_base_is_refused_naming_the_entry() -> None:
    old_name = {"src": ["group:sre"], "dst": [OPERATOR], "ip": ["443"],
                "app": {f"https://{CAPABILITY}": [{"impersonate": {"groups": ["x"]}}]}}
    with pytest.raises(InvalidConfig) as error:
        rows_with({"grants": [old_name]})
    assert "grants[0]" in str(error.value)
    assert "https://tailscale.com/cap/kubernetes" in str(error.value)


def test_the_public_access_matrix_gives_the_stacks_rows_without_a_base() -> None:
    plan = plan_cluster(stack_config("dev"), PROJECT_ROOT)
    alone = access_matrix(plan.spec)
    assert [row.to_json() for row in alone] == [row.to_json() for row in plan.access]



def test_a_path_the_evaluator_cannot_decide_is_a_row_and_a_warning() -> None:
    by_address = {"action": "accept", "src": ["group:sre"], "dst": ["100.64.0.0/10:443"]}
    config = copy.deepcopy(stack_config("dev"))
    config["policy"] = {"baseText": json.dumps({**BASE, "acls": [*BASE["acls"], by_address]})}
    plan = plan_cluster(config, PROJECT_ROOT)
    sre = {row.src: row for row in plan.access}["group:sre"]
    assert sre.kind == "as-itself" and sre.undecided
    assert any(warning.startswith("gpu-dev: the access of group:sre is not decided offline")
               for warning in plan.warnings)


def test_a_grant_that_may_apply_counts_with_a_warning() -> None:
    routed = {"src": ["group:sre"], "dst": [OPERATOR], "via": ["tag:ci"],
              "app": {CAPABILITY: [{"impersonate": {"groups": ["system:masters"]}}]}}
    config = copy.deepcopy(stack_config("dev"))
    config["policy"] = {"baseText": json.dumps(
        {**BASE, "grants": [routed], "acls": sre_to_the_proxy()})}
    plan = plan_cluster(config, PROJECT_ROOT)
    sre = {row.src: row for row in plan.access}["group:sre"]
    assert sre.kind == "grant" and sre.kubernetes_groups == ("system:masters",)
    assert sre.undecided and sre.origin == ("base grants[0]",)
    assert any(warning.startswith("gpu-dev: the access of group:sre is not decided offline "
                                  "(grants[0] (base): ") for warning in plan.warnings)


def test_a_binding_to_system_authenticated_applies_to_every_row() -> None:
    rows = rows_with({}, roleBindings=[{"group": "tailnet-readers", "clusterRole": "view"},
                                       {"group": "system:authenticated", "clusterRole": "edit"}])
    readers = rows["group:ml-readers"]
    assert readers.kubernetes_groups == ("tailnet-readers",)
    assert readers.cluster_roles == ("view", "edit")


def test_a_tag_whose_grants_name_no_groups_is_impersonated_with_its_tag() -> None:
    recorder_only = {"src": ["tag:ci"], "dst": [OPERATOR], "ip": ["443"],
                     "app": {CAPABILITY: [{"recorder": ["tag:tsrecorder"]}]}}
    rows = rows_with({"grants": [recorder_only]},
                     roleBindings=[{"group": "tailnet-readers", "clusterRole": "view"},
                                   {"group": "tag:ci", "clusterRole": "edit"}])
    ci = rows["tag:ci"]
    assert ci.kind == "grant" and ci.recorded
    assert ci.kubernetes_groups == ("tag:ci",) and ci.cluster_roles == ("edit",)
