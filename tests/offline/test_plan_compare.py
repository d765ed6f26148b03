"""Comparing two plans: what a reviewer needs to know about a change, not a text diff."""

import copy
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, plan_config, run_cli, stack_config
from tailscale_cluster_access.offline.report.compare import (
    LoadedPlan,
    compare_plans,
    load_plan_dir,
    render_comparison,
)

EDIT_RIGHTS = ["impersonate", "pods:attach", "pods:create", "pods:exec", "secrets:read",
               "serviceaccounts:token", "workloads:write"]


@pytest.fixture(scope="module")
def before_after(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """prod, then prod with readers bound to `edit`, a new source and admins unrecorded."""
    tmp = tmp_path_factory.mktemp("compare")
    before = stack_config("prod")
    after = copy.deepcopy(before)
    after["groups"]["group:ml-ops"] = ["carol@example.com"]
    after["roleBindings"] = [{"group": "tailnet-readers", "clusterRole": "edit"}]
    after["access"][0]["recordSessions"] = False
    # Someone still has to be recorded, or the recorder would be refused as unused.
    after["access"].append({"src": ["group:ml-ops"], "kubernetesGroups": ["tailnet-readers"],
                            "recordSessions": True})
    plan_config(tmp, "before", before)
    printed = plan_config(tmp, "after", after, "--compare", str(tmp / "before"))
    return tmp / "before", tmp / "after", printed


def test_access_changes_are_reported_row_by_row(before_after: tuple[Path, Path, str]) -> None:
    before, after, _ = before_after
    comparison = compare_plans(load_plan_dir(before), load_plan_dir(after))
    assert [row["src"] for row in comparison.access_added] == ["group:ml-ops"]
    assert comparison.access_added[0]["clusterRoles"] == ["edit"]
    assert comparison.access_removed == []
    changes = {(c.src, c.field): (c.old, c.new) for c in comparison.access_changed}
    assert changes == {
        ("group:ml-readers", "clusterRoles"): (["view"], ["edit"]),
        # view -> edit: reading secrets and exec into pods, among others.
        ("group:ml-readers", "sensitiveRights"): ([], EDIT_RIGHTS),
        ("group:ml-engineers", "recorded"): (True, False),
        ("group:ml-engineers", "enforced"): (True, False),
        ("group:ml-engineers", "failsClosed"): (True, False),
    }


def test_policy_sections_and_resources_that_changed(before_after: tuple[Path, Path, str]) -> None:
    before, after, _ = before_after
    comparison = compare_plans(load_plan_dir(before), load_plan_dir(after))
    sections = {change.section: change for change in comparison.policy}
    assert sections["groups"].added == ("group:ml-ops",)
    # The admins' grant lost its recorder requirement; ml-ops got a grant of its own.
    assert sections["grants"].changed == ("src group:ml-engineers",)
    assert sections["grants"].added == ("src group:ml-ops",)
    assert "tagOwners" not in sections

    # A binding's name carries its role: the old one goes, a new one comes.
    assert [c.name for c in comparison.resources_added] == ["gpu-prod-rbac-tailnet-readers-edit"]
    assert [c.name for c in comparison.resources_removed] == [
        "gpu-prod-rbac-tailnet-readers-view"]
    changed = {c.name: c.keys for c in comparison.resources_changed}
    assert changed == {"gpu-prod-policy-acl": ("acl",)}


def test_plan_compare_prints_it_for_reviewers(before_after: tuple[Path, Path, str]) -> None:
    before, after, printed = before_after
    for line in ("- group:ml-readers: clusterRoles view -> edit",
                 "- group:ml-engineers: recorded true -> false",
                 "- group:ml-engineers: enforced true -> false",
                 "- added group:ml-ops: endpoint gpu-prod, ports 80, 443, kubernetesGroups "
                 "tailnet-readers, clusterRoles edit, sensitiveRights " + ", ".join(EDIT_RIGHTS)
                 + ", recorded true, enforced true, posture (none), failsClosed true, "
                 "origin stack",
                 "- group:ml-readers: sensitiveRights gained " + ", ".join(EDIT_RIGHTS),
                 "- `bob@example.com` gains " + ", ".join(EDIT_RIGHTS) + " via group:ml-readers "
                 "(group:ml-readers: clusterRoles view -> edit)",
                 "- `carol@example.com` gains " + ", ".join(EDIT_RIGHTS) + " via group:ml-ops "
                 "(added to group:ml-ops)",
                 "- `grants`: 1 added (src group:ml-ops); 1 changed (src group:ml-engineers)",
                 "- added `ClusterRoleBinding` gpu-prod-rbac-tailnet-readers-edit",
                 "- removed `ClusterRoleBinding` gpu-prod-rbac-tailnet-readers-view",
                 "- changed `Acl` gpu-prod-policy-acl: `acl`"):
        assert line in printed.splitlines()
    assert ("- new: gpu-prod: group:ml-engineers has cluster-admin and its sessions are not "
            "recorded.") in printed.splitlines()
    code, diffed, err = run_cli("diff", str(before), str(after))
    assert code == 0, err
    # `plan --compare` and `diff` say the same thing.
    assert diffed in printed


def test_the_reverse_comparison_reports_the_opposite(
        before_after: tuple[Path, Path, str]) -> None:
    before, after, _ = before_after
    code, text, _ = run_cli("diff", str(after), str(before))
    assert code == 0
    assert "- group:ml-engineers: recorded false -> true" in text
    assert "- removed group:ml-ops: " in text


def test_a_plan_compared_with_itself_has_no_changes(before_after: tuple[Path, Path, str]) -> None:
    before, _, _ = before_after
    comparison = compare_plans(load_plan_dir(before), load_plan_dir(before))
    assert comparison.empty
    assert "No changes" in render_comparison(comparison)


def test_reordered_policy_entries_are_no_change() -> None:
    entries = [{"src": ["group:a"], "dst": ["tag:x"], "ip": ["443"]},
               {"src": ["group:b"], "dst": ["tag:x"], "ip": ["443"]}]
    old = LoadedPlan(Path("old"), "s", [], {"grants": entries, "groups": {"group:a": ["x@y.z"]}},
                     [])
    new = LoadedPlan(Path("new"), "s", [], {"grants": entries[::-1],
                                            "postures": {"posture:p": ["a == 'b'"]}}, [])
    sections = {change.section: change for change in compare_plans(old, new).policy}
    assert "grants" not in sections
    assert sections["groups"].status == "removed"
    assert sections["postures"].status == "added"
    assert sections["postures"].added == ("posture:p",)

    # Entries count as a multiset: a second copy is one entry added.
    doubled = LoadedPlan(Path("new"), "s", [], {"grants": [*entries, entries[0]]}, [])
    # Sections in policy-file order: groups before grants.
    (groups, grants) = compare_plans(old, doubled).policy
    assert (grants.section, grants.added, grants.removed) == ("grants", ("src group:a",), ())
    assert groups.section == "groups"


def test_diff_of_a_folder_that_is_no_plan_exits_2(tmp_path: Path,
                                                  before_after: tuple[Path, Path, str]) -> None:
    before, _, _ = before_after
    code, out, err = run_cli("diff", str(before), str(tmp_path))
    assert code == 2
    assert out == ""
    assert "is not a plan folder: access.json is missing" in err
    code, _, err = run_cli("diff", str(tmp_path / "nope"), str(before))
    assert code == 2
    assert "is not a folder" in err


def test_plan_compare_with_no_plan_fails_before_writing(tmp_path: Path) -> None:
    code, out, err = run_cli("plan", "--stack", "dev", "--project", str(PROJECT_ROOT),
                             "--out", str(tmp_path / "out"), "--compare", str(tmp_path / "nope"))
    assert code == 2
    assert out == ""
    assert "is not a folder" in err
    assert not (tmp_path / "out").exists()


def test_plan_compare_with_the_folder_it_replaces(tmp_path: Path) -> None:
    argv = ["plan", "--stack", "dev", "--project", str(PROJECT_ROOT), "--out",
            str(tmp_path / "dev")]
    assert run_cli(*argv)[0] == 0
    code, out, err = run_cli(*argv, "--compare", str(tmp_path / "dev"))
    assert code == 0, err
    assert "No changes: same access, same policy, same resources." in out
