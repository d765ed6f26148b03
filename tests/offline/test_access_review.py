"""Issue 25: a base policy's grant that hands out cluster-admin shows in every file a reviewer
reads: access.json, access.md, the summary, `plan --compare` and the pull-request comment."""

import copy
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import PROJECT_ROOT, plan_config, stack_config
from tailscale_cluster_access.core.policy import hujson
from tailscale_cluster_access.offline.report.markdown import unescape

BASE = hujson.parse_data((PROJECT_ROOT / "policies" / "base.hujson").read_text(), "base")
# The example: a base grant from autogroup:member impersonating system:masters.
MASTERS_FOR_MEMBERS = {
    "src": ["autogroup:member"], "dst": ["tag:k8s-operator"], "ip": ["443"],
    "app": {"tailscale.com/cap/kubernetes": [{"impersonate": {"groups": ["system:masters"]}}]}}


def with_base(base: dict[str, Any]) -> dict[str, Any]:
    config = copy.deepcopy(stack_config("dev"))
    config["policy"] = {"baseText": json.dumps(base)}
    return config


@pytest.fixture(scope="module")
def base_grant(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """dev on the committed base, then on the same base plus the issue's grant."""
    tmp = tmp_path_factory.mktemp("base-grant")
    plan_config(tmp, "before", with_base(BASE))
    printed = plan_config(tmp, "after", with_base({**BASE, "grants": [MASTERS_FOR_MEMBERS]}),
                          "--compare", str(tmp / "before"))
    return tmp / "before", tmp / "after", printed


def test_access_json_has_the_base_grants_row_with_system_masters(
        base_grant: tuple[Path, Path, str]) -> None:
    _, after, _ = base_grant
    rows = {row["src"]: row for row in json.loads((after / "access.json").read_text())}
    member = rows["autogroup:member"]
    assert member["kubernetesGroups"] == ["system:masters"]
    assert member["clusterRoles"] == ["cluster-admin"]
    assert member["origin"] == ["base grants[0]"] and member["broad"] is True
    table = (after / "access.md").read_text()
    assert "| autogroup:member (broad) | tailscale-operator | 443 | system:masters | " \
           "cluster-admin | cluster-admin, " in table
    summary = (after / "summary.md").read_text()
    assert "| autogroup:member (broad) |" in summary
    assert "autogroup:member has cluster-admin (base grants\\[0\\]) and its sessions are not " \
           "recorded." in summary


def test_compare_names_the_gain_and_the_base_grant(base_grant: tuple[Path, Path, str]) -> None:
    _, _, printed = base_grant
    gains = [unescape(line) for line in printed.splitlines()
             if line.startswith("- autogroup:member gains ")]
    assert len(gains) == 1
    assert gains[0].startswith("- autogroup:member gains cluster-admin, ")
    assert gains[0].endswith(" (base grants[0])")
    assert "**Who gains or loses access**\n\n- no change" not in printed


def _plan_comment() -> ModuleType:
    path = PROJECT_ROOT / ".github" / "scripts" / "plan_comment.py"
    spec = importlib.util.spec_from_file_location("plan_comment_for_access", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_the_pull_request_comment_names_the_gain(base_grant: tuple[Path, Path, str]) -> None:
    before, after, _ = base_grant
    comment = _plan_comment()
    old = json.loads((before / "access.json").read_text())
    new = json.loads((after / "access.json").read_text())
    changes = comment.access_changes(old, new).splitlines()
    assert "! autogroup:member gains cluster-admin (base grants[0])" in changes
    # The readers are members too; the stack's own grant is among their origins.
    assert "! group:ml-readers gains cluster-admin (base grants[0], stack)" in changes


def test_a_plan_from_before_origins_compares_without_noise(
        base_grant: tuple[Path, Path, str]) -> None:
    before, _, _ = base_grant
    comment = _plan_comment()
    new = json.loads((before / "access.json").read_text())
    old = [{key: value for key, value in row.items()
            if key not in ("events", "kind", "origin", "broad")}
           for row in new if row["kind"] != "operator"]
    changes = comment.access_changes(old, new)
    assert changes.splitlines() == [
        line for line in changes.splitlines() if line.startswith(("+ added", "! "))]
