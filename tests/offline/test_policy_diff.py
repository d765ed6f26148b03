"""`policy.diff`: the base file against the policy the stack writes, as `diff -u` shows it."""

import re
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, STACKS, plan, plan_config, stack_config

HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def apply_unified(old: str, diff: str) -> str:
    """Apply a unified diff of one file to `old` (what `patch` does, checked line by line)."""
    source = old.splitlines(keepends=True)
    result: list[str] = []
    taken = 0
    lines = diff.splitlines(keepends=True)[2:]
    index = 0
    while index < len(lines):
        match = HUNK.match(lines[index])
        assert match, lines[index]
        start = int(match[1]) - (0 if match[2] == "0" else 1)
        result += source[taken:start]
        taken = start
        index += 1
        while index < len(lines) and not lines[index].startswith("@@"):
            kind, text = lines[index][0], lines[index][1:]
            if kind in " -":
                assert source[taken] == text, f"context differs at line {taken + 1}"
                taken += 1
            if kind in " +":
                result.append(text)
            index += 1
    return "".join(result + source[taken:])


@pytest.mark.parametrize("stack", STACKS)
def test_the_diff_turns_the_base_file_into_the_written_policy(tmp_path: Path, stack: str) -> None:
    code, _, err = plan(tmp_path, stack=stack)
    assert code == 0, err
    base_path = stack_config(stack)["policy"]["base"]
    diff = (tmp_path / "policy.diff").read_text()
    assert diff.startswith(f"--- a/{base_path}\n+++ b/policy.hujson\n")
    base = (PROJECT_ROOT / base_path).read_text()
    assert apply_unified(base, diff) == (tmp_path / "policy.hujson").read_text()
    # Only additions: the base's own lines are all kept.
    assert not [line for line in diff.splitlines()[2:] if line.startswith("-")]


def test_a_fragment_is_diffed_against_an_empty_base(tmp_path: Path) -> None:
    config = {**stack_config("dev"), "policy": {"manage": False}}
    plan_config(tmp_path, "fragment", config)
    diff = (tmp_path / "fragment" / "policy.diff").read_text()
    assert diff.startswith("--- /dev/null\n+++ b/policy.hujson\n")
    assert apply_unified("", diff) == (tmp_path / "fragment" / "policy.hujson").read_text()


def test_a_base_given_as_text_is_named_so(tmp_path: Path) -> None:
    base = (PROJECT_ROOT / "policies" / "base.hujson").read_text()
    config = {**stack_config("dev"), "policy": {"baseText": base}}
    plan_config(tmp_path, "text", config)
    diff = (tmp_path / "text" / "policy.diff").read_text()
    assert diff.startswith("--- a/policy.baseText\n")
    assert apply_unified(base, diff) == (tmp_path / "text" / "policy.hujson").read_text()
