"""Issue 13: a plan comparison names the people behind a change, the rights it hands out,
and every policy, chart and value change; untrusted text stays text."""

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from conftest import plan_config, run_cli, stack_config
from tailscale_cluster_access.offline.report.compare import (
    LoadedPlan,
    compare_plans,
    render_comparison,
)
from tailscale_cluster_access.offline.report.model import PlanData
from tailscale_cluster_access.offline.report.render import render_files

ADMIN_RIGHTS = ("cluster-admin, impersonate, namespaces:delete, nodes:proxy, pods:attach, "
                "pods:create, pods:exec, rbac:bind-escalate, secrets:read, "
                "serviceaccounts:token, workloads:write")
INJECTION = "evil\n```\n<!-- hidden | `x`"


@pytest.fixture(scope="module")
def mallory(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """prod, then prod with mallory in the admins' group and a newer operator chart."""
    tmp = tmp_path_factory.mktemp("review")
    before = stack_config("prod")
    before["operator"] = {"chartVersion": "1.92.4"}
    after = copy.deepcopy(before)
    after["groups"]["group:ml-engineers"].append("mallory@evil.example")
    after["operator"] = {"chartVersion": "1.102.3", "hostname": "ts-operator"}
    plan_config(tmp, "before", before)
    printed = plan_config(tmp, "after", after, "--compare", str(tmp / "before"))
    return tmp / "before", tmp / "after", printed


def test_a_new_group_member_is_named_with_the_rights_it_gains(
        mallory: tuple[Path, Path, str]) -> None:
    before, after, printed = mallory
    line = (f"- `mallory@evil.example` gains {ADMIN_RIGHTS} via group:ml-engineers "
            "(added to group:ml-engineers)")
    assert line in printed.splitlines()
    assert "**Access rows**\n\n- no change" in printed
    assert "  - group:ml-engineers: added `mallory@evil.example`" in printed.splitlines()
    # summary.md of `plan --compare` says it too, and lists who is behind each source.
    summary = (after / "summary.md").read_text()
    assert line in summary.splitlines()
    assert "| `mallory@evil.example` | group:ml-engineers | cluster-admin, " in summary
    # The reverse: mallory loses it all.
    code, text, _ = run_cli("diff", str(after), str(before))
    assert code == 0
    assert (f"- `mallory@evil.example` loses {ADMIN_RIGHTS} (was via group:ml-engineers) "
            "(removed from group:ml-engineers)") in text.splitlines()


def test_chart_version_and_helm_values_changes_are_shown(mallory: tuple[Path, Path, str]) -> None:
    _, _, printed = mallory
    lines = printed.splitlines()
    assert "- tailscale/tailscale-operator: chart version 1.92.4 -> 1.102.3" in lines
    assert ("- tailscale/tailscale-operator: values operatorConfig.hostname: "
            "tailscale-operator -> ts-operator") in lines


def test_access_rows_carry_sensitive_rights(mallory: tuple[Path, Path, str]) -> None:
    import json

    before, _, _ = mallory
    rows = {row["src"]: row for row in json.loads((before / "access.json").read_text())}
    assert rows["group:ml-engineers"]["sensitiveRights"] == ADMIN_RIGHTS.split(", ")
    assert rows["group:ml-readers"]["sensitiveRights"] == []  # view
    assert "| Sensitive rights |" in (before / "access.md").read_text()


def test_custom_roles_the_plan_cannot_see_are_unknown(tmp_path: Path) -> None:
    import json

    config = stack_config("prod")
    config["roleBindings"] = [{"group": "tailnet-readers", "clusterRole": "gpu-operator"}]
    plan_config(tmp_path, "custom", config)
    rows = {row["src"]: row for row in json.loads((tmp_path / "custom" / "access.json")
                                                  .read_text())}
    assert rows["group:ml-readers"]["sensitiveRights"] == ["unknown:gpu-operator"]


def test_secret_keys_are_shown_values_masked(tmp_path: Path) -> None:
    config = stack_config("prod")
    config["oauth"] = {"clientId": "k123", "clientSecret": "not-in-the-plan-0123456789"}
    s3 = config["sessionRecording"]["s3"]
    del s3["roleArn"]
    s3.update({"accessKeyId": "AKIA-NOT-IN-PLAN", "secretAccessKey": "sk-not-in-the-plan-01"})
    plan_config(tmp_path, "keys", config)
    text = (tmp_path / "keys" / "manifests.yaml").read_text()
    secrets = {obj["metadata"]["name"]: obj for obj in yaml.safe_load_all(text)
               if obj["kind"] == "Secret"}
    assert {name: obj["stringData"] for name, obj in secrets.items()} == {
        "tailscale-cluster-access-oauth": {"client_id": "[secret]", "client_secret": "[secret]"},
        "recorder-s3-credentials": {"AWS_ACCESS_KEY_ID": "[secret]",
                                    "AWS_SECRET_ACCESS_KEY": "[secret]"}}
    for secret_text in ("k123", "AKIA-NOT-IN-PLAN", "not-in-the-plan", "sk-not-in"):
        assert secret_text not in text
    version = kubernetes_validate.latest_version()
    for obj in secrets.values():
        kubernetes_validate.validate(obj, version, strict=True)


def _plan(policy: dict[str, Any], access: list[dict[str, Any]] | None = None) -> LoadedPlan:
    return LoadedPlan(Path("p"), "s", access or [], policy, [])


def test_tag_owners_auto_approvers_postures_and_tests_show_what_changed() -> None:
    old = _plan({
        "tagOwners": {"tag:k8s": ["tag:k8s-operator"]},
        "autoApprovers": {"routes": {"10.0.0.0/8": ["tag:k8s"]}},
        "postures": {"posture:latest": ["node:tsReleaseTrack == 'stable'"]},
        "tests": [{"src": "alice@example.com", "accept": ["tag:k8s:443"]}]})
    new = _plan({
        "tagOwners": {"tag:k8s": ["tag:k8s-operator", "mallory@evil.example"]},
        "autoApprovers": {"routes": {"10.0.0.0/8": ["tag:k8s"], "0.0.0.0/0": ["tag:k8s"]},
                          "exitNode": ["tag:k8s"]},
        "postures": {"posture:latest": []},
        "tests": [{"src": "alice@example.com", "accept": [], "deny": ["tag:k8s:443"]}]})
    text = render_comparison(compare_plans(old, new))
    for line in ("  - tag:k8s: added `mallory@evil.example`",
                 "  - routes.0.0.0.0/0: added \\[\"tag:k8s\"\\]",
                 "  - exitNode: added \\[\"tag:k8s\"\\]",
                 "  - posture:latest: removed node:tsReleaseTrack == 'stable'",
                 "  - src `alice@example.com.accept`: removed tag:k8s:443",
                 "  - src `alice@example.com.deny`: added \\[\"tag:k8s:443\"\\]"):
        assert line in text.splitlines(), text


def _assert_inert(markdown: str) -> None:
    for line in markdown.splitlines():
        assert "<!--" not in line
        assert not line.startswith("```")
    # A table row stays one row with its own cells.
    for line in markdown.splitlines():
        if line.startswith("| evil"):
            assert line.count(" | ") == line.count("|") - 2 - line.count("\\|")


def test_untrusted_text_cannot_break_out_of_tables_or_fences() -> None:
    row = {"src": INJECTION, "endpoint": "e", "ports": [443], "kubernetesGroups": [INJECTION],
           "clusterRoles": [INJECTION], "recorded": False, "enforced": False, "posture": []}
    data = PlanData(stack="s", project="p", policy="{}\n", policy_managed=True, resources=[],
                    manifests=[], helm_releases=[], access=[row], warnings=[INJECTION],
                    outputs={INJECTION: {"k": INJECTION}})
    files = render_files(data)
    _assert_inert(files["summary.md"])
    _assert_inert(files["access.md"])
    # Shown as text: `evil\n```\n< !-- hidden | `x`` once rendered.
    assert r"evil\\n\`\`\`\\n\< \!-- hidden \| \`x\`" in files["summary.md"]

    old = _plan({"groups": {"group:a": ["x@y.z"]}},
                [{**row, "src": "group:a", "clusterRoles": ["view"]}])
    new = _plan({"groups": {"group:a": ["x@y.z", INJECTION], INJECTION: ["y"]}},
                [{**row, "src": "group:a", "clusterRoles": ["view"]}])
    _assert_inert(render_comparison(compare_plans(old, new)))
