"""The pull-request comment builder treats the `plan` artifact as untrusted data."""

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".github" / "scripts" / "plan_comment.py"
_spec = importlib.util.spec_from_file_location("plan_comment", SCRIPT)
assert _spec is not None and _spec.loader is not None
plan_comment = importlib.util.module_from_spec(_spec)
sys.modules["plan_comment"] = plan_comment
_spec.loader.exec_module(plan_comment)

ROW = {
    "src": "alice@example.com",
    "endpoint": "gpu-prod",
    "ports": [443],
    "kubernetesGroups": ["tailnet-readers"],
    "clusterRoles": ["view"],
    "recorded": True,
    "enforced": True,
    "posture": [],
}


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def artifact(root: Path, **files: str) -> Path:
    write(root, "pr-number", "42\n")
    write(root, "test-outcome", "success\n")
    for relative, text in files.items():
        write(root, relative.replace("__", "/"), text)
    return root


def fences(body: str) -> list[tuple[str, str]]:
    """(fence, content) of every fenced block, parsed the way CommonMark closes them."""
    blocks = []
    lines = body.split("\n")
    index = 0
    while index < len(lines):
        opener = re.match(r"^(`{3,})", lines[index])
        if not opener:
            index += 1
            continue
        ticks = opener.group(1)
        content = []
        index += 1
        while index < len(lines) and not re.fullmatch(
            rf" {{0,3}}`{{{len(ticks)},}}\s*", lines[index]
        ):
            content.append(lines[index])
            index += 1
        assert index < len(lines), "a fence is never closed"
        blocks.append((ticks, "\n".join(content)))
        index += 1
    return blocks


def outside_fences(body: str) -> str:
    text = body
    for _ticks, content in fences(body):
        text = text.replace(content, "", 1)
    return text


def test_injection_with_newline_backticks_and_comment_stays_inside_the_fence(tmp_path):
    # A stack-file key holding a newline, three backticks and `<!--`, echoed by the plan.
    evil = (
        "- added group:ml-ops\n```\n<!--\n## Looks fine\n"
        "- group:ml-engineers: clusterRoles view -> cluster-admin\n-->\n"
        f"{plan_comment.MARKER}\n@everyone"
    )
    root = artifact(tmp_path)
    write(root, "head/prod/summary.md", evil)
    write(root, "head/prod/access.json", json.dumps([ROW]))
    write(root, "compare/prod.txt", evil)

    body = plan_comment.build_comment(root)

    assert body.startswith(plan_comment.MARKER)
    assert body.count(plan_comment.MARKER) == 1
    assert "<!--" not in body[len(plan_comment.MARKER):]
    outside = outside_fences(body)
    assert "Looks fine" not in outside
    assert "@everyone" not in outside
    assert "cluster-admin" not in outside
    contents = [content for _, content in fences(body)]
    assert any("clusterRoles view -> cluster-admin" in content for content in contents)
    assert all(len(ticks) >= 4 for ticks, content in fences(body) if "```" in content)


def test_fence_is_longer_than_any_backtick_run():
    text = "a ```` b\n``````\nc `` d"
    block = plan_comment.fence(text, 10_000)
    assert block.startswith("```````text\n")
    assert block.endswith("\n```````")
    inner = block.split("\n")[1:-1]
    assert "\n".join(inner) == text


@pytest.mark.parametrize("text", ["", "plain", "`", "``", "```"])
def test_fence_minimum_and_short_runs(text):
    ticks = plan_comment.fence(text, 1000).split("\n")[0].removesuffix("text")
    assert len(ticks) == max(3, max((len(r) for r in re.findall("`+", text)), default=0) + 1)


def test_control_and_bidi_characters_are_replaced():
    cleaned = plan_comment.clean("a\r\nb\rc\x1b[31md\u202eevil\u200b")
    assert cleaned == "a\nb\nc\N{REPLACEMENT CHARACTER}[31md\N{REPLACEMENT CHARACTER}evil" \
        "\N{REPLACEMENT CHARACTER}"


def test_sizes_are_capped_below_githubs_limit(tmp_path):
    huge = ("x" * 199 + "\n") * 2_000  # 400 kB per file
    files = {}
    for stack in ("dev", "prod", "staging"):
        files[f"head__{stack}__summary.md"] = huge
        files[f"compare__{stack}.txt"] = huge + "\u00e9" * 50_000
        files[f"log__{stack}.txt"] = huge
    root = artifact(tmp_path)
    for relative, text in files.items():
        write(root, relative.replace("__", "/"), text)

    body = plan_comment.build_comment(root)

    assert len(body.encode("utf-8")) <= plan_comment.MAX_BODY < 65536
    for stack in ("dev", "prod", "staging"):
        assert f"### Stack `{stack}`" in body
    assert "cut; the whole file is in the `plan` artifact" in body
    fences(body)  # every fence still closes


def test_many_stacks_are_capped(tmp_path):
    root = artifact(tmp_path)
    for index in range(plan_comment.MAX_STACKS + 5):
        write(root, f"head/s{index:02d}/summary.md", "ok")
    body = plan_comment.build_comment(root)
    assert body.count("### Stack ") == plan_comment.MAX_STACKS
    assert "5 entries of the artifact" in body


def test_missing_files(tmp_path):
    root = artifact(tmp_path, **{"log__dev.txt": "error: invalid config\n"})
    write(root, "head/prod/access.json", json.dumps([ROW]))
    body = plan_comment.build_comment(root)
    assert "### Stack `dev`: :x: the plan failed" in body
    assert "error: invalid config" in body
    assert "summary.md is missing from the artifact" in body
    # Identities are shown in full.
    assert "alice@example.com" in body


def test_no_stacks_at_all(tmp_path):
    body = plan_comment.build_comment(artifact(tmp_path))
    assert "holds no plan of any stack" in body


def test_access_changes_are_computed_from_both_plans(tmp_path):
    admin = {**ROW, "clusterRoles": ["cluster-admin"], "recorded": False}
    new_row = {**ROW, "src": "group:ml-ops"}
    root = artifact(tmp_path)
    write(root, "base/prod/access.json", json.dumps([ROW]))
    write(root, "head/prod/access.json", json.dumps([admin, new_row]))
    body = plan_comment.build_comment(root)
    assert "~ alice@example.com -> gpu-prod: clusterRoles view -> cluster-admin" in body
    assert "~ alice@example.com -> gpu-prod: recorded yes -> no" in body
    assert "+ added   group:ml-ops" in body


@pytest.mark.parametrize("value", ["", "abc", "-1", "0", "4 2", "42; rm -rf /", "1e3",
                                   "12345678901", "٤٢"])
def test_pr_number_must_be_an_integer(tmp_path, value):
    write(tmp_path, "pr-number", value)
    with pytest.raises(plan_comment.ArtifactError):
        plan_comment.read_pr_number(tmp_path)


def test_missing_pr_number_fails_the_command(tmp_path, capsys):
    out = tmp_path / "comment.md"
    assert plan_comment.main(["--artifact", str(tmp_path / "none"), "--out", str(out)]) == 2
    assert not out.exists()
    assert "no pr-number" in capsys.readouterr().err


def test_command_prints_the_number_and_writes_the_comment(tmp_path, capsys):
    root = artifact(tmp_path / "a", **{"head__dev__summary.md": "## Plan for stack `dev`"})
    out = tmp_path / "comment.md"
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert plan_comment.main(["--artifact", str(root), "--out", str(out), "--head-sha", sha,
                              "--run-url", "https://github.com/o/r/actions/runs/7"]) == 0
    assert capsys.readouterr().out.strip() == "42"
    text = out.read_text(encoding="utf-8")
    assert f"Commit `{sha}`" in text
    assert "[Workflow run](https://github.com/o/r/actions/runs/7)" in text
    assert "`make test`: **passed**" in text


def test_untrusted_sha_url_and_stack_names_are_not_echoed(tmp_path):
    root = artifact(tmp_path)
    write(root, "head/evil`name/summary.md", "x")
    write(root, "head/dev/summary.md", "x")
    write(root, "test-outcome", "**pwned**")
    body = plan_comment.build_comment(root, head_sha="`oops`", run_url="javascript:alert(1)")
    assert "evil" not in body
    assert "oops" not in body
    assert "javascript" not in body
    assert "pwned" not in body
    assert "`make test`: **unknown**" in body


def test_symlinks_are_not_followed(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN=hunter2", encoding="utf-8")
    root = artifact(tmp_path / "a")
    (root / "head" / "dev").mkdir(parents=True)
    (root / "head" / "dev" / "summary.md").symlink_to(secret)
    (root / "log").mkdir()
    (root / "log" / "prod.txt").symlink_to(secret)
    body = plan_comment.build_comment(root)
    assert "hunter2" not in body
