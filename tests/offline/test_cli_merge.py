"""`tailscale-cluster-access merge`: team fragments into the tailnet's base policy, offline."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli
from tailscale_cluster_access.core.policy import hujson
from tailscale_cluster_access.core.policy.compose import compose

BASE = """// Tailnet policy of example.com: owned by the platform team.
{
	// People
	"groups": {"group:platform": ["pat@example.com"]},
	"tagOwners": {"tag:k8s-operator": []},
	// Admins reach everything.
	"acls": [{"action": "accept", "src": ["autogroup:admin"], "dst": ["*:*"]}],
}
"""

TEAM_A = """{
	"groups": {"group:ml-engineers": ["alice@example.com"]},
	"tagOwners": {"tag:k8s-operator": [], "tag:k8s": ["tag:k8s-operator"]},
	"grants": [{
		"src": ["group:ml-engineers"], "dst": ["tag:k8s-operator"],
		"app": {"tailscale.com/cap/kubernetes": [{"impersonate": {"groups": ["system:masters"]}}]},
	},],
	"acls": [{"action": "accept", "src": ["group:ml-engineers"], "dst": ["tag:k8s-operator:443"]}],
}
"""

TEAM_B = """// cluster b
{
	"groups": {"group:ml-readers": ["bob@example.com"]},
	"acls": [{"action": "accept", "src": ["group:ml-readers"], "dst": ["tag:k8s-operator:443"]}],
	"tests": [{"src": "group:ml-readers", "accept": ["tag:k8s-operator:443"]}],
}
"""


def composed(base: str, fragments: list[tuple[str, str]]) -> str:
    """The policy the one composition pipeline writes (TailnetPolicy, the plans)."""
    return compose(base, [(name, hujson.parse(text).data) for name, text in fragments]).text


def files(tmp_path: Path, **texts: str) -> dict[str, str]:
    paths = {}
    for name, text in texts.items():
        path = tmp_path / f"{name}.hujson"
        path.write_text(text)
        paths[name] = str(path)
    return paths


def test_merge_prints_what_the_stack_would_write(tmp_path: Path) -> None:
    paths = files(tmp_path, base=BASE, a=TEAM_A, b=TEAM_B)
    code, out, err = run_cli("merge", "--base", paths["base"], paths["a"], paths["b"])
    assert code == 0, err
    # Same result as the TailnetPolicy component renders.
    assert out == composed(BASE, [("a", TEAM_A), ("b", TEAM_B)])
    merged = hujson.parse(out)
    # The ownership record for the drift check comes first, then the base's own header.
    assert all(line.startswith("// tailscale-cluster-access owns:")
               for line in merged.header[:-1])
    assert merged.header[-1] == "// Tailnet policy of example.com: owned by the platform team."
    assert merged.comments["acls"] == ["// Admins reach everything."]
    assert list(merged.data["groups"]) == ["group:platform", "group:ml-engineers",
                                           "group:ml-readers"]
    # Base entries first and unchanged; fragments only append.
    assert merged.data["acls"][0] == {"action": "accept", "src": ["autogroup:admin"],
                                      "dst": ["*:*"]}
    assert len(merged.data["acls"]) == 3


def test_merge_writes_the_out_file_and_nothing_else(tmp_path: Path) -> None:
    paths = files(tmp_path, base=BASE, a=TEAM_A)
    target = tmp_path / "policy.hujson"
    code, out, err = run_cli("merge", "--base", paths["base"], paths["a"], "--out", str(target))
    assert code == 0, err
    assert out == ""
    assert target.read_text() == composed(BASE, [("a", TEAM_A)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.hujson", "base.hujson",
                                                          "policy.hujson"]


@pytest.mark.parametrize("text", ["", " \n\t\n"], ids=["empty", "whitespace"])
def test_an_empty_base_file_is_refused(tmp_path: Path, text: str) -> None:
    # Merged into nothing, every rule of the live policy would be dropped.
    paths = files(tmp_path, base=text, a=TEAM_A)
    code, out, err = run_cli("merge", "--base", paths["base"], paths["a"])
    assert (code, out) == (2, "")
    assert "the base policy is empty" in err and "write {} in it" in err


def test_a_base_holding_an_empty_policy_is_a_new_policy(tmp_path: Path) -> None:
    paths = files(tmp_path, base="{}\n", a=TEAM_A)
    code, out, _ = run_cli("merge", "--base", paths["base"], paths["a"])
    assert code == 0
    assert out == composed("{}\n", [("a", TEAM_A)])


def test_every_conflict_is_listed_and_nothing_is_written(tmp_path: Path) -> None:
    paths = files(
        tmp_path, base=BASE,
        a='{"groups": {"group:platform": ["mallory@example.com"]}, "tagOwners": {"tag:k8s": []}}',
        b='{"tagOwners": {"tag:k8s": ["tag:k8s-operator"]}}')
    target = tmp_path / "out.hujson"
    code, out, err = run_cli("merge", "--base", paths["base"], paths["a"], paths["b"],
                             "--out", str(target))
    assert code == 2
    assert out == ""
    assert "2 conflicts" in err
    assert 'groups["group:platform"]: the base policy says ["pat@example.com"]' in err
    assert 'tagOwners["tag:k8s"]' in err
    assert "Nothing was written." in err
    assert not target.exists()


def test_every_unreadable_file_is_listed(tmp_path: Path) -> None:
    paths = files(tmp_path, base="{\n\t\"groups\": {,},\n}", a="[1, 2]", good=TEAM_A)
    missing = str(tmp_path / "missing.hujson")
    code, out, err = run_cli("merge", "--base", paths["base"], paths["a"], paths["good"],
                             missing, paths["good"])
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == "Cannot merge (4 problems); nothing was written:"
    assert lines[1].startswith(f"  - {paths['base']}:2:")
    assert lines[2].startswith(f"  - {paths['a']}:1:1:")
    assert lines[3] == f"  - {missing}: file not found."
    assert lines[4] == f"  - {paths['good']}: given twice."
    assert "Traceback" not in err


def test_merge_needs_no_pulumi(tmp_path: Path) -> None:
    paths = files(tmp_path, base=BASE, a=TEAM_A)
    probe = ("import sys\n"
             "from tailscale_cluster_access.offline.cli import main\n"
             f"code = main(['merge', '--base', {paths['base']!r}, {paths['a']!r}])\n"
             "assert code == 0, code\n"
             "assert not any(m.split('.')[0] == 'pulumi' for m in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == composed(BASE, [("a", TEAM_A)])
