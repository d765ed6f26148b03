"""Bad stack configuration and base policies: every problem listed, each naming its key."""

import copy
import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PROJECT_ROOT, stack_config
from tailscale_cluster_access.core.cluster_plan import plan_cluster
from tailscale_cluster_access.core.problems import InvalidConfig
from tailscale_cluster_access.offline.cli import main

PREFIX = "tailscale-cluster-access:"
GOOD_BASE = """// Other teams' policy
{
  "groups": {"group:sre": ["carol@example.com"]},
  "tagOwners": {"tag:ci": ["group:sre"]},
  "acls": [{"action": "accept", "src": ["group:sre"], "dst": ["tag:ci:22"]}],
}
"""

# (case id, stack, changes to the stack's top-level keys, base policy text or None, keys named)
CASES: list[tuple[str, str, dict[str, Any], str | None, list[str]]] = [
    ("cluster missing", "dev", {"cluster": None}, None, ["cluster"]),
    ("cluster not a DNS label", "dev", {"cluster": "GPU_Dev"}, None, ["cluster"]),
    # Not a number: the engine hands a program `cluster: 7` as the valid name "7".
    ("cluster wrong type", "dev", {"cluster": ["gpu-dev"]}, None, ["cluster"]),
    ("tag without tag:", "dev", {"tags": {"operator": "k8s-operator"}}, None, ["tags.operator"]),
    ("tag with bad characters", "dev", {"tags": {"proxy": "tag:k8s_proxy"}}, None, ["tags.proxy"]),
    ("tags not distinct", "dev", {"tags": {"proxy": "tag:k8s-operator"}}, None, ["tags.proxy"]),
    (
        "operator hostname",
        "dev",
        {"operator": {"hostname": "Tailscale Operator"}},
        None,
        ["operator.hostname"],
    ),
    ("namespace", "dev", {"operator": {"namespace": "Tailscale"}}, None, ["operator.namespace"]),
    (
        "chart version format",
        "dev",
        {"operator": {"chartVersion": "latest"}},
        None,
        ["operator.chartVersion"],
    ),
    (
        "chart version too old",
        "dev",
        {"operator": {"chartVersion": "1.80.2"}},
        None,
        ["operator.chartVersion"],
    ),
    ("chart version known broken", "dev", {"operator": {"chartVersion": "1.92.3"}}, None,
     ["operator.chartVersion"]),
    ("whole policy written without a base", "dev", {"policy": None}, None, ["policy.base"]),
    ("recorder tag as a source", "dev",
     {"access": [{"src": ["tag:tsrecorder"], "kubernetesGroups": ["x"]}]}, None,
     ["access[0].src[0]"]),
    ("operator tag as a source", "dev",
     {"access": [{"src": ["tag:k8s-operator"], "kubernetesGroups": ["x"]}]}, None,
     ["access[0].src[0]"]),
    ("base with defaultSrcPosture", "dev", {},
     '{"postures": {"posture:a": ["node:os == \'linux\'"]}, "defaultSrcPosture": ["posture:a"]}',
     ["policy.base"]),
    ("base keys differing only in case", "dev", {},
     '{"ACLs": [], "acls": []}', ["policy.base"]),
    ("noauth unacknowledged", "dev", {"proxy": {"mode": "noauth"}}, None, ["proxy.mode"]),
    ("unknown proxy mode", "dev", {"proxy": {"mode": "open"}}, None, ["proxy.mode"]),
    (
        "proxy replicas < 1",
        "staging",
        {"proxy": {"highAvailability": True, "replicas": 0}},
        None,
        ["proxy.replicas"],
    ),
    (
        "ProxyGroup hostname",
        "staging",
        {"proxy": {"highAvailability": True, "hostname": "-gpu"}},
        None,
        ["proxy.hostname"],
    ),
    ("hostname without HA", "dev", {"proxy": {"hostname": "gpu"}}, None, ["proxy.hostname"]),
    (
        "not an identity",
        "dev",
        {"access": [{"src": ["grp:ml"], "kubernetesGroups": ["view"]}]},
        None,
        ["access[0].src[0]"],
    ),
    (
        "unknown autogroup",
        "dev",
        {"access": [{"src": ["autogroup:everyone"], "kubernetesGroups": ["x"]}]},
        None,
        ["access[0].src[0]"],
    ),
    (
        "broad admin",
        "dev",
        {"access": [{"src": ["autogroup:member"], "kubernetesGroups": ["system:masters"]}]},
        None,
        ["access[0].src"],
    ),
    (
        "broad admin through a binding",
        "dev",
        {
            "access": [{"src": ["user:*@example.com"], "kubernetesGroups": ["ops"]}],
            "roleBindings": [{"group": "ops", "clusterRole": "cluster-admin"}],
        },
        None,
        ["access[0].src"],
    ),
    (
        "empty kubernetesGroups",
        "dev",
        {"access": [{"src": ["group:ml-readers"], "kubernetesGroups": []}]},
        None,
        ["access[0].kubernetesGroups"],
    ),
    (
        "bad Kubernetes group",
        "dev",
        {"access": [{"src": ["group:ml-readers"], "kubernetesGroups": ["tailnet readers"]}]},
        None,
        ["access[0].kubernetesGroups[0]"],
    ),
    (
        "recording not enabled",
        "dev",
        {
            "access": [
                {"src": ["group:ml-readers"], "kubernetesGroups": ["x"], "recordSessions": True}
            ]
        },
        None,
        ["access[0].recordSessions"],
    ),
    (
        "posture not defined",
        "dev",
        {
            "access": [
                {
                    "src": ["group:ml-readers"],
                    "kubernetesGroups": ["x"],
                    "posture": ["posture:latest"],
                }
            ]
        },
        None,
        ["access[0].posture[0]"],
    ),
    (
        "group not defined",
        "dev",
        {"access": [{"src": ["group:data-science"], "kubernetesGroups": ["x"]}]},
        None,
        ["access[0].src[0]"],
    ),
    (
        "duplicate access rule",
        "dev",
        {
            "access": [
                {"src": ["group:ml-readers"], "kubernetesGroups": ["x"]},
                {"src": ["group:ml-readers"], "kubernetesGroups": ["x"]},
            ]
        },
        None,
        ["access[1]"],
    ),
    (
        "tag used but never owned",
        "dev",
        {"access": [{"src": ["tag:ci-runner"], "kubernetesGroups": ["x"]}]},
        None,
        ["access[0].src[0]"],
    ),
    (
        "bad ClusterRole",
        "dev",
        {"roleBindings": [{"group": "x", "clusterRole": "View Role"}]},
        None,
        ["roleBindings[0].clusterRole"],
    ),
    (
        "binding without group",
        "dev",
        {"roleBindings": [{"clusterRole": "view"}]},
        None,
        ["roleBindings[0].group"],
    ),
    (
        "recorder replicas without S3",
        "prod",
        {"sessionRecording": {"enabled": True, "replicas": 3}},
        None,
        ["sessionRecording.replicas"],
    ),
    (
        "S3 without bucket",
        "prod",
        {"sessionRecording": {"enabled": True, "s3": {"endpoint": "s3.example.com"}}},
        None,
        ["sessionRecording.s3.bucket"],
    ),
    (
        "API request recording on an old chart",
        "prod",
        {"sessionRecording": {"enabled": True, "recordApiRequests": True},
         "operator": {"chartVersion": "1.92.4"}},
        None,
        ["sessionRecording.recordApiRequests"],
    ),
    (
        "workload identity with a client ID and secret",
        "prod",
        {"oauth": {"clientId": "kQ5CNTRL", "clientSecret": "tskey-client-x",
                   "workloadIdentity": {"issuer": "https://oidc.example.com"}}},
        None,
        ["oauth.workloadIdentity"],
    ),
    (
        "workload identity issuer not https",
        "prod",
        {"oauth": {"workloadIdentity": {"issuer": "http://oidc.example.com"}}},
        None,
        ["oauth.workloadIdentity.issuer"],
    ),
    (
        "workload identity issuer missing",
        "prod",
        {"oauth": {"workloadIdentity": {"audience": "tailscale"}}},
        None,
        ["oauth.workloadIdentity.issuer"],
    ),
    (
        "workload identity on a broken chart",
        "prod",
        {"operator": {"chartVersion": "1.98.2"}},
        None,
        ["operator.chartVersion"],
    ),
    ("unknown top-level key", "dev", {"acess": []}, None, ["acess"]),
    (
        "typo in a nested key",
        "staging",
        {"proxy": {"highAvailabilty": True}},
        None,
        ["proxy.highAvailabilty"],
    ),
    (
        "wrong type for a flag",
        "dev",
        {"proxy": {"highAvailability": "yes"}},
        None,
        ["proxy.highAvailability"],
    ),
    ("access not a list", "dev", {"access": {"src": ["group:ml-readers"]}}, None, ["access"]),
    (
        "group inside a group",
        "dev",
        {
            "groups": {
                "group:ml-engineers": ["group:ml-readers"],
                "group:ml-readers": ["bob@example.com"],
            }
        },
        None,
        ["groups.group:ml-engineers[0]"],
    ),
    (
        "network rule style",
        "dev",
        {"policy": {"base": "policies/base.hujson", "networkRules": "both"}},
        None,
        ["policy.networkRules"],
    ),
    (
        "OAuth client without secret",
        "dev",
        {"oauth": {"clientId": "k123"}},
        None,
        ["oauth.clientSecret"],
    ),
    ("tailnet domain", "dev", {"tailnetDomain": "not a domain"}, None, ["tailnetDomain"]),
    (
        "base file missing",
        "dev",
        {"policy": {"base": "policies/missing.hujson"}},
        None,
        ["policy.base"],
    ),
    ("base file malformed", "dev", {}, '{"acls": [ {"action": "accept",, } ]}', ["policy.base"]),
    ("base file not an object", "dev", {}, '["acls"]', ["policy.base"]),
    (
        "base owns the proxy tag otherwise",
        "dev",
        {},
        '{"tagOwners": {"tag:k8s": ["group:sre"]}, "groups": {"group:sre": ["c@example.com"]}}',
        ["tags.proxy"],
    ),
    (
        "base defines the group otherwise",
        "dev",
        {},
        '{"groups": {"group:ml-readers": ["mallory@example.com"]}}',
        ["groups.group:ml-readers"],
    ),
    (
        "autogroup:nonroot as a source (SSH only)",
        "dev",
        {"access": [{"src": ["autogroup:nonroot"], "kubernetesGroups": ["ops"]}]},
        None,
        ["access[0].src[0]"],
    ),
    (
        "bare domain wildcard",
        "dev",
        {"access": [{"src": ["*@example.com"], "kubernetesGroups": ["ops"]}]},
        None,
        ["access[0].src[0]"],
    ),
    (
        "base test broken by the stack's readers rule",
        "dev",
        {},
        '{"tests": [{"src": "bob@example.com", "deny": ["tag:k8s-operator:443"]}]}',
        ["policy.base"],
    ),
    (
        "base acls mixing legacy and new syntax",
        "dev",
        {},
        '{"acls": [{"action": "accept", "users": ["*"], "ports": ["*:*"]},'
        ' {"action": "accept", "src": ["*"], "dst": ["*:*"]}]}',
        ["policy.base"],
    ),
    (
        "base defines the posture otherwise",
        "prod",
        {},
        '{"postures": {"posture:latest": ["node:os == \'linux\'"]}}',
        ["postures.posture:latest"],
    ),
]


def bad_config(stack: str, changes: dict[str, Any], base: str | None,
               tmp_path: Path) -> dict[str, Any]:
    """The stack's config with top-level keys replaced (None removes) and a base file."""
    config = copy.deepcopy(stack_config(stack))
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    if base is not None:
        path = tmp_path / "base.hujson"
        path.write_text(base)
        config.setdefault("policy", {})["base"] = str(path)
    return config


def problems_for(stack: str, changes: dict[str, Any], base: str | None,
                 tmp_path: Path) -> InvalidConfig:
    with pytest.raises(InvalidConfig) as raised:
        plan_cluster(bad_config(stack, changes, base, tmp_path), PROJECT_ROOT, prefix=PREFIX)
    return raised.value


@pytest.mark.parametrize(
    ("stack", "changes", "base", "keys"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_names_its_key(
    stack: str, changes: dict[str, Any], base: str | None, keys: list[str], tmp_path: Path
) -> None:
    error = problems_for(stack, changes, base, tmp_path)
    message = error.render()
    assert message.startswith("Invalid configuration (")
    for key in keys:
        assert f"  - {PREFIX}{key}:" in message, message
    assert {problem.key for problem in error.problems} == set(keys), message
    assert all(problem.fix or "base policy" in problem.message for problem in error.problems)
    assert "Traceback" not in message


def test_there_are_enough_distinct_cases() -> None:
    assert len({case[0] for case in CASES}) == len(CASES) >= 30


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    error = problems_for(
        "dev",
        {
            "cluster": "Bad Name",
            "tags": {"operator": "nope"},
            "proxy": {"mode": "noauth", "replicas": 0},
            "operator": {"chartVersion": "v1"},
            "unknownKey": 1,
        },
        None,
        tmp_path,
    )
    assert {problem.key for problem in error.problems} == {
        "cluster",
        "tags.operator",
        "proxy.mode",
        "proxy.replicas",
        "operator.chartVersion",
        "unknownKey",
    }


def test_scim_groups_need_no_definition(tmp_path: Path) -> None:
    config = copy.deepcopy(stack_config("dev"))
    config["access"] = [{"src": ["group:ml-admins@example.com"], "kubernetesGroups": ["x"]}]
    plan_cluster(config, PROJECT_ROOT)


def test_base_policy_defines_groups(tmp_path: Path) -> None:
    config = copy.deepcopy(stack_config("dev"))
    del config["groups"]
    base = tmp_path / "base.hujson"
    base.write_text(
        '{"groups": {"group:ml-engineers": ["a@example.com"], '
        '"group:ml-readers": ["b@example.com"]}}'
    )
    config["policy"] = {"base": str(base)}
    plan = plan_cluster(config, PROJECT_ROOT)
    assert '"group:ml-engineers": ["a@example.com"]' in plan.policy


def test_broad_admin_allowed_explicitly() -> None:
    config = copy.deepcopy(stack_config("dev"))
    config["access"] = [{"src": ["autogroup:member"], "kubernetesGroups": ["system:masters"]}]
    config["allowBroadAdmin"] = True
    plan = plan_cluster(config, PROJECT_ROOT)
    assert any("broad source" in warning for warning in plan.warnings)


def test_base_entry_equal_to_what_the_stack_needs_is_fine(tmp_path: Path) -> None:
    config = copy.deepcopy(stack_config("dev"))
    base = tmp_path / "base.hujson"
    base.write_text(
        GOOD_BASE.replace(
            '"tag:ci": ["group:sre"]', '"tag:ci": ["group:sre"], "tag:k8s": ["tag:k8s-operator"]'
        )
    )
    config["policy"] = {"base": str(base)}
    plan_cluster(config, PROJECT_ROOT)


@pytest.mark.parametrize(("stack", "changes", "base", "keys"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_plan_exits_2_and_names_the_key(stack: str, changes: dict[str, Any], base: str | None,
                                        keys: list[str], tmp_path: Path) -> None:
    config = bad_config(stack, changes, base, tmp_path)
    stack_file = tmp_path / "Pulumi.bad.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {f"{PREFIX}{k}": v
                                                     for k, v in config.items()}}))
    out = tmp_path / "plan"
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(["plan", "--stack", "bad", "--config", str(stack_file), "--out", str(out)],
                stdout=stdout, stderr=stderr)
    assert code == 2
    for key in keys:
        assert f"{PREFIX}{key}:" in stderr.getvalue()
    assert "Traceback" not in stderr.getvalue() + stdout.getvalue()
    assert not out.exists()


def test_a_file_holding_an_empty_policy_replaces_the_whole_policy_on_purpose(
        tmp_path: Path) -> None:
    config = bad_config("dev", {}, "{}", tmp_path)
    plan = plan_cluster(config, PROJECT_ROOT)
    assert '"tag:k8s-operator": []' in plan.policy


def test_the_bare_domain_wildcard_suggests_the_user_form(tmp_path: Path) -> None:
    error = problems_for(
        "dev", {"access": [{"src": ["*@example.com"], "kubernetesGroups": ["ops"]}]}, None,
        tmp_path)
    assert '"user:*@example.com"' in error.render()


def test_the_domain_wildcard_is_a_broad_source() -> None:
    from tailscale_cluster_access.core.config import is_broad_source

    assert is_broad_source("user:*@example.com")
    assert not is_broad_source("user:bob@example.com")
