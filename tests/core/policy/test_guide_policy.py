"""The rendered tailnet policy of each stack, against the guide's own snippets."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT_ROOT
from tailscale_cluster_access.core.policy import hujson
from tailscale_cluster_access.offline import ProgramRun

CAP = "tailscale.com/cap/kubernetes"

# Copied from the guide's steps 1 and 4 ("Secure your AI training cluster").
GUIDE_TAG_OWNERS = {
    "tag:k8s-operator": [],
    "tag:k8s": ["tag:k8s-operator"],
    "tag:tsrecorder": [],
}
GUIDE_GRANTS = [
    {
        "src": ["group:ml-engineers"],
        "dst": ["tag:k8s-operator"],
        "app": {CAP: [{"impersonate": {"groups": ["system:masters"]}}]},
    },
    {
        "src": ["group:ml-readers"],
        "dst": ["tag:k8s-operator"],
        "app": {CAP: [{"impersonate": {"groups": ["tailnet-readers"]}}]},
    },
]
GUIDE_SNIPPET_ACLS = [
    {"action": "accept", "src": ["group:ml-engineers"], "dst": ["tag:k8s-operator:443"]},
    {"action": "accept", "src": ["group:ml-readers"], "dst": ["tag:k8s-operator:443"]},
]
# The guide's rules, limited to TCP: without `proto` an acls rule also opens UDP and ICMP.
GUIDE_ACLS = [{**acl, "proto": "tcp"} for acl in GUIDE_SNIPPET_ACLS]


BASE = hujson.parse((PROJECT_ROOT / "policies" / "base.hujson").read_text()).data


def written_policy(run: ProgramRun) -> dict[str, Any]:
    """The stack's own part of the policy it writes, after checking that every entry of the
    base policy (policies/base.hujson) is there, unchanged and first."""
    document = hujson.parse(run.one("tailscale:index/acl:Acl").inputs["acl"])
    own: dict[str, Any] = {}
    for key, value in document.data.items():
        kept = BASE.get(key)
        if isinstance(value, list):
            kept = kept or []
            assert value[: len(kept)] == kept, key
            value = value[len(kept) :]
        elif isinstance(value, dict):
            kept = kept or {}
            assert {name: value[name] for name in kept} == kept, key
            value = {name: item for name, item in value.items() if name not in kept}
        if value:
            own[key] = value
    assert document.header and document.comments["acls"], "the base's comments survive"
    return own


def test_dev_policy_is_the_guide(run_stack: Callable[..., ProgramRun]) -> None:
    policy = written_policy(run_stack("dev"))
    assert policy["tagOwners"] == GUIDE_TAG_OWNERS
    assert policy["grants"] == GUIDE_GRANTS
    assert policy["acls"] == GUIDE_ACLS
    assert policy["groups"] == {
        "group:ml-engineers": ["alice@example.com"],
        "group:ml-readers": ["bob@example.com"],
    }
    assert set(policy) == {"groups", "tagOwners", "grants", "acls", "tests"}


def test_dev_tests_cover_access_and_its_absence(run_stack: Callable[..., ProgramRun]) -> None:
    assert written_policy(run_stack("dev"))["tests"] == [
        {"src": "group:ml-engineers", "accept": ["tag:k8s-operator:443"]},
        {"src": "group:ml-readers", "accept": ["tag:k8s-operator:443"]},
        {"src": "tag:tsrecorder", "deny": ["tag:k8s-operator:443"]},
    ]


def test_dev_binding_is_the_guides(run_stack: Callable[..., ProgramRun]) -> None:
    binding = run_stack("dev").one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
    # The guide: kubectl create clusterrolebinding tailnet-readers-view \
    #   --group=tailnet-readers --clusterrole=view
    assert binding.inputs["metadata"]["name"] == "tailnet-readers-view"
    assert binding.inputs["subjects"] == [
        {"kind": "Group", "name": "tailnet-readers", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    assert binding.inputs["roleRef"] == {
        "kind": "ClusterRole",
        "name": "view",
        "apiGroup": "rbac.authorization.k8s.io",
    }


def test_staging_targets_the_proxy_group_tag(run_stack: Callable[..., ProgramRun]) -> None:
    policy = written_policy(run_stack("staging"))
    group = "tag:k8s-apiserver"  # the ProxyGroup's own tag (tags.proxyGroup)
    assert [grant["dst"] for grant in policy["grants"]] == [[group], [group]]
    assert [acl["dst"] for acl in policy["acls"]] == [[f"{group}:80", f"{group}:443"]] * 2
    assert policy["autoApprovers"] == {"services": {group: [group]}}
    assert {"src": "tag:tsrecorder", "deny": [f"{group}:80", f"{group}:443"]} in policy["tests"]


def test_prod_records_and_requires_posture(run_stack: Callable[..., ProgramRun]) -> None:
    policy = written_policy(run_stack("prod"))
    admin, reader = policy["grants"]
    assert admin == {
        "src": ["group:ml-engineers"],
        "dst": ["tag:k8s-apiserver"],
        "app": {
            CAP: [
                {
                    "impersonate": {"groups": ["system:masters"]},
                    "recorder": ["tag:tsrecorder"],
                    "enforceRecorder": True,
                }
            ]
        },
        "srcPosture": ["posture:latest"],
    }
    assert "recorder" not in reader["app"][CAP][0]
    assert policy["tagOwners"]["tag:tsrecorder"] == ["tag:k8s-operator"]
    assert policy["postures"] == {"posture:latest": ["node:tsReleaseTrack == 'stable'"]}
    assert {"action": "accept", "src": ["tag:k8s-apiserver"], "dst": ["tag:tsrecorder:80"],
            "proto": "tcp"} in policy["acls"]
    assert {
        "action": "accept",
        "src": ["group:ml-engineers"],
        "dst": ["tag:k8s-apiserver:80", "tag:k8s-apiserver:443"],
        "proto": "tcp",
        "srcPosture": ["posture:latest"],
    } in policy["acls"]
    tests = policy["tests"]
    assert {
        "src": "group:ml-engineers",
        "accept": ["tag:k8s-apiserver:80", "tag:k8s-apiserver:443"],
        "srcPostureAttrs": {"node:tsReleaseTrack": "stable"},
    } in tests
    assert {"src": "tag:k8s-apiserver", "accept": ["tag:tsrecorder:80"]} in tests


def test_network_rules_as_grants(run_stack: Callable[..., ProgramRun]) -> None:
    policy = written_policy(
        run_stack("prod", {"policy": {"base": "policies/base.hujson", "networkRules": "grants"}})
    )
    assert "acls" not in policy
    ip_grants = [grant for grant in policy["grants"] if "ip" in grant]
    assert ip_grants == [
        {
            "src": ["group:ml-engineers"],
            "dst": ["tag:k8s-apiserver"],
            "ip": ["tcp:80", "tcp:443"],
            "srcPosture": ["posture:latest"],
        },
        {"src": ["group:ml-readers"], "dst": ["tag:k8s-apiserver"], "ip": ["tcp:80", "tcp:443"]},
        {"src": ["tag:k8s-apiserver"], "dst": ["tag:tsrecorder"], "ip": ["tcp:80"]},
    ]


def test_api_request_recording(run_stack: Callable[..., ProgramRun]) -> None:
    changes = {
        "operator": {"chartVersion": "1.96.2"},
        "sessionRecording": {"enabled": True, "recordApiRequests": True},
    }
    policy = written_policy(run_stack("prod", changes))
    assert policy["grants"][0]["app"][CAP][0]["enableEvents"] is True


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_one_source_of_truth(run_stack: Callable[..., ProgramRun], stack: str) -> None:
    """Grant destinations, network rules and tests all name the proxy the stack deploys."""
    run = run_stack(stack)
    policy = written_policy(run)
    endpoint = (
        "tag:k8s-apiserver"
        if run.by_type("kubernetes:tailscale.com/v1alpha1:ProxyGroup")
        else "tag:k8s-operator"
    )
    assert {tuple(grant["dst"]) for grant in policy["grants"] if "app" in grant} == {(endpoint,)}
    access_dsts = {
        dst.rsplit(":", 1)[0]
        for acl in policy["acls"]
        for dst in acl["dst"]
        if not dst.startswith("tag:tsrecorder")
    }
    assert access_dsts == {endpoint}
    accepted = {
        dst.rsplit(":", 1)[0]
        for test in policy["tests"]
        if test["src"].startswith("group:")
        for dst in test["accept"]
    }
    assert accepted == {endpoint}


def test_no_deny_test_where_a_rule_lets_the_recorder_through(
    run_stack: Callable[..., ProgramRun], tmp_path: Path
) -> None:
    """A deny test that some rule contradicts would make Tailscale refuse the whole policy."""
    allow_all = tmp_path / "allow-all.hujson"
    allow_all.write_text('{"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}]}')
    adopted = written_policy_text(run_stack("dev", {"policy": {"base": str(allow_all)}}))
    assert not [test for test in adopted["tests"] if "deny" in test]
    assert adopted["acls"][0] == {"action": "accept", "src": ["*"], "dst": ["*:*"]}
    everyone = written_policy(
        run_stack("dev", {"access": [{"src": ["*"], "kubernetesGroups": ["tailnet-readers"]}]})
    )
    assert not [test for test in everyone.get("tests", []) if "deny" in test]


def test_a_base_spelled_the_old_way_gets_the_entries_in_its_sections(
    run_stack: Callable[..., ProgramRun], tmp_path: Path
) -> None:
    old_style = tmp_path / "old.hujson"
    old_style.write_text(
        '{"TagOwners": {"tag:ci": []}, '
        '"ACLs": [{"Action": "accept", "Users": ["*"], "Ports": ["*:*"]}]}'
    )
    policy = written_policy_text(run_stack("dev", {"policy": {"base": str(old_style)}}))
    assert "acls" not in policy and "tagOwners" not in policy
    assert policy["TagOwners"] == {"tag:ci": [], **GUIDE_TAG_OWNERS}
    # The base's acls are in the legacy users/ports syntax: the stack's rules follow it.
    assert policy["ACLs"][1:] == [
        {"action": "accept", "users": acl["src"], "ports": acl["dst"], "proto": "tcp"}
        for acl in GUIDE_SNIPPET_ACLS
    ]


def written_policy_text(run: ProgramRun) -> dict[str, Any]:
    return hujson.parse(run.one("tailscale:index/acl:Acl").inputs["acl"]).data
