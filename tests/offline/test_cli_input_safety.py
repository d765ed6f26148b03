"""Hostile or mistaken input to the CLI: exit 2 naming the file, never a hang or a traceback.

And `plan --out` never replaces a folder that is not its own output.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import BILLION_LAUGHS, PROJECT_ROOT, plan, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tailscale_cluster_access.offline import runner
from tailscale_cluster_access.offline.report import PLAN_FILES, render
from tailscale_cluster_access.offline.report.model import PLAN_MARKER

DEV_STACK = PROJECT_ROOT / "stacks" / "Pulumi.dev.yaml"
DEV_TEXT = DEV_STACK.read_text()
# What a plan writes: the plan files and the marker that makes the folder a previous plan.
WRITTEN = sorted((*PLAN_FILES, PLAN_MARKER))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def refused(out: Path, config: Path | str, *phrases: str, stack: str = "dev") -> str:
    """Plan `config` into `out` (holding an old plan); exit 2, the old plan untouched."""
    before = snapshot(out) if out.exists() else None
    code, stdout, err = plan(out, config=config, stack=stack)
    assert code == 2, err
    assert stdout == ""
    assert "Traceback" not in err
    assert err.startswith(f"{config}: "), err
    for phrase in phrases:
        assert phrase in err
    assert (snapshot(out) if out.exists() else None) == before
    return err


@pytest.fixture(scope="module")
def old_plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("old") / "plan"
    code, _, err = plan(folder)
    assert code == 0, err
    return snapshot(folder)


@pytest.fixture
def out(tmp_path: Path, old_plan: dict[str, bytes]) -> Path:
    """An output folder holding a previous plan."""
    folder = tmp_path / "out"
    folder.mkdir()
    for name, data in old_plan.items():
        (folder / name).write_bytes(data)
    return folder


def stack_file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "Pulumi.dev.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project (a regression must not delete the real stacks)."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    for name in ("stacks", "policies"):
        shutil.copytree(PROJECT_ROOT / name, root / name)
    return root


# -- files that are not regular files -----------------------------------------------


def test_config_fifo_is_refused_in_a_subprocess(tmp_path: Path, out: Path) -> None:
    fifo = tmp_path / "Pulumi.dev.yaml"
    os.mkfifo(fifo)
    result = subprocess.run(
        [sys.executable, "-m", "tailscale_cluster_access", "plan", "--stack", "dev",
         "--config", str(fifo), "--out", str(out), "--project", str(PROJECT_ROOT)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"{fifo}: the stack config file is a named pipe (FIFO), not a " \
                            "regular file.\n"


def test_config_fifo_is_refused(tmp_path: Path, out: Path) -> None:
    fifo = tmp_path / "Pulumi.dev.yaml"
    os.mkfifo(fifo)
    refused(out, fifo, "named pipe (FIFO)")


def test_config_device_folder_and_symlink_loop(tmp_path: Path, out: Path) -> None:
    refused(out, "/dev/zero", "is a device")
    refused(out, tmp_path, "is a folder")
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(tmp_path / "loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to(loop)
    refused(out, loop, "symlink loop")


def test_project_file_fifo_and_duplicate_keys(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "plan"
    (project / "Pulumi.yaml").unlink()
    os.mkfifo(project / "Pulumi.yaml")
    code, _, err = plan(target, project=project)
    assert code == 2
    assert err == f"{project / 'Pulumi.yaml'}: the project file is a named pipe (FIFO), not " \
                  "a regular file.\n"
    (project / "Pulumi.yaml").unlink()
    (project / "Pulumi.yaml").write_text("name: a\nruntime: python\nname: b\n")
    code, _, err = plan(target, project=project)
    assert code == 2
    assert "Pulumi.yaml: line 3: name: duplicate key (first at line 1" in err
    assert not target.exists()


def test_huge_config_file(tmp_path: Path, out: Path) -> None:
    big = stack_file(tmp_path, DEV_TEXT + "#" * (1024 * 1024))
    refused(out, big, "larger than 1 MiB")


# -- content -------------------------------------------------------------------------


# The dev stack file's `cluster:` line (after its comments and the schema hint).
CLUSTER_LINE = 1 + next(index for index, line in enumerate(DEV_TEXT.splitlines())
                        if "tailscale-cluster-access:cluster:" in line)


def test_nul_byte_and_bad_utf8(tmp_path: Path, out: Path) -> None:
    refused(out, stack_file(tmp_path, DEV_TEXT.replace("gpu-dev", "gpu\x00dev")),
            f"NUL byte (line {CLUSTER_LINE})")
    refused(out, stack_file(tmp_path, DEV_TEXT.encode().replace(b"gpu-dev", b"gpu\xffdev")),
            "not UTF-8")


def test_billion_laughs(tmp_path: Path, out: Path) -> None:
    text = DEV_TEXT + "  tailscale-cluster-access:extra:\n" + "".join(
        f"    {line}\n" for line in BILLION_LAUGHS.splitlines())
    refused(out, stack_file(tmp_path, text), "aliases are expanded")


def test_ten_thousand_levels_deep(tmp_path: Path, out: Path) -> None:
    text = DEV_TEXT + "  tailscale-cluster-access:deep: " + "[" * 10_000 + "]" * 10_000 + "\n"
    refused(out, stack_file(tmp_path, text), "nested more than 100 levels deep")


def test_five_thousand_digit_integer(tmp_path: Path, out: Path) -> None:
    text = DEV_TEXT.replace("kubernetesGroups: [tailnet-readers]",
                            "kubernetesGroups: [tailnet-readers]\n      n: " + "7" * 5000)
    err = refused(out, stack_file(tmp_path, text), "an integer with 5000 digits")
    assert "config.tailscale-cluster-access:access[1].n" in err


def test_date_as_a_key(tmp_path: Path, out: Path) -> None:
    text = DEV_TEXT.replace("    group:ml-readers:", "    2024-01-01:")
    err = refused(out, stack_file(tmp_path, text), "the key '2024-01-01' is not a string")
    assert "config.tailscale-cluster-access:groups" in err


def test_duplicate_keys_are_refused_naming_both_lines(tmp_path: Path, out: Path) -> None:
    text = DEV_TEXT + "  tailscale-cluster-access:cluster: gpu-other\n"
    err = refused(out, stack_file(tmp_path, text), "duplicate key")
    lines = DEV_TEXT.count("\n")
    assert f"line {lines + 1}: config.tailscale-cluster-access:cluster: duplicate key " \
           f"(first at line {CLUSTER_LINE}" in err


@pytest.mark.parametrize("stack", [".", "..", "org/.."])
def test_dot_stack_names_are_refused(out: Path, stack: str) -> None:
    before = snapshot(out)
    code, _, err = plan(out, stack=stack)
    assert code == 2
    assert f"--stack {stack!r}" in err
    assert "not `.` or `..`" in err
    assert snapshot(out) == before


def test_dotdot_stack_does_not_touch_the_default_output(project: Path) -> None:
    (project / "build").mkdir()
    (project / "build" / "keep.txt").write_text("keep")
    code, _, _ = run_cli("plan", "--stack", "..", "--project", str(project))
    assert code == 2
    assert (project / "build" / "keep.txt").read_text() == "keep"


# -- where `plan --out` writes -----------------------------------------------------


def source_folder_refused(project: Path, out: str, phrase: str) -> None:
    before = snapshot(project)
    code, stdout, err = run_cli("plan", "--stack", "dev", "--project", str(project),
                                "--out", out)
    assert code == 2, err
    assert stdout == ""
    assert "`plan` replaces its output folder as a whole" in err
    assert phrase in err
    assert "e.g. --out build/plan/dev" in err
    assert snapshot(project) == before


def test_out_stacks_is_refused_and_stacks_untouched(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    before = {p.name: p.read_bytes() for p in (project / "stacks").iterdir()}
    source_folder_refused(project, "stacks", "the stack config folder")
    assert {p.name: p.read_bytes() for p in (project / "stacks").iterdir()} == before
    assert "Pulumi.dev.yaml" in before


def test_out_project_root_parents_and_other_projects_are_refused(
    project: Path, tmp_path: Path
) -> None:
    source_folder_refused(project, str(project), "the project folder")
    source_folder_refused(project, str(project / "stacks" / ".."), "the project folder")
    source_folder_refused(project, str(tmp_path), "a folder that contains the project")
    source_folder_refused(project, "/", "a folder that contains the project")
    other = tmp_path / "other"
    other.mkdir()
    (other / "Pulumi.yaml").write_text("name: other\n")
    source_folder_refused(project, str(other), "holds a Pulumi project")
    link = tmp_path / "link"
    link.symlink_to(project / "stacks")
    source_folder_refused(project, str(link), "the stack config folder")


def test_out_beside_the_config_file_is_refused(tmp_path: Path) -> None:
    config = stack_file(tmp_path, DEV_TEXT)
    code, _, err = plan(tmp_path, config=config)
    assert code == 2
    assert "the folder of the stack config file" in err
    assert config.read_text() == DEV_TEXT


def test_out_on_an_unrelated_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "todo.txt").write_text("keep me")
    (folder / "summary.md").write_text("mine")
    (folder / "sub").mkdir()
    code, stdout, err = plan(folder)
    assert code == 2
    assert stdout == ""
    assert err == (f"--out {folder}: `plan` replaces its output folder as a whole, and this "
                   "one holds what is not a plan (sub/, todo.txt). Pass a folder of its own, "
                   "e.g. --out build/plan/dev. Or empty it first if nothing in it is needed.\n")
    assert snapshot(folder) == {"todo.txt": b"keep me", "summary.md": b"mine"}


def test_out_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "plan.txt"
    target.write_text("x")
    code, _, err = plan(target)
    assert code == 2
    assert "this is not a folder" in err
    assert target.read_text() == "x"


def test_default_out_with_foreign_files_is_refused(project: Path) -> None:
    folder = project / "build" / "plan" / "dev"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    code, _, err = run_cli("plan", "--stack", "dev", "--project", str(project))
    assert code == 2
    assert err.startswith(f"the output folder {folder}: `plan` replaces")
    assert (folder / "notes.txt").read_text() == "mine"


def test_out_on_a_previous_plan_an_empty_folder_or_a_new_one(tmp_path: Path, out: Path) -> None:
    (out / "graph.mmd").unlink()  # an older version's plan, with fewer files
    code, _, err = plan(out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == WRITTEN
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "new" / "dev"):
        code, _, err = plan(folder)
        assert code == 0, err
        assert sorted(p.name for p in folder.iterdir()) == WRITTEN


# -- Ctrl-C ------------------------------------------------------------------------------


def test_ctrl_c_during_the_run_exits_130_with_one_line(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_program", interrupted)
    before = snapshot(out)
    code, stdout, err = plan(out)
    assert code == 130
    assert stdout == ""
    assert err == "interrupted\n"
    assert snapshot(out) == before


def test_ctrl_c_while_writing_keeps_the_old_plan(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_new = render._write_new

    def interrupted(path: Path, text: str) -> None:
        if path.name == "summary.md":
            raise KeyboardInterrupt
        write_new(path, text)

    monkeypatch.setattr(render, "_write_new", interrupted)
    before = snapshot(out)
    code, _, err = plan(out)
    assert code == 130
    assert err == "interrupted\n"
    assert snapshot(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]  # no staging left


# -- merge ---------------------------------------------------------------------------


def test_merge_refuses_fifos_devices_and_nul_bytes(tmp_path: Path) -> None:
    base = tmp_path / "base.hujson"
    base.write_text("{}\n")
    fifo = tmp_path / "fifo.hujson"
    os.mkfifo(fifo)
    nul = tmp_path / "nul.hujson"
    nul.write_text('{"groups": {"group:a": ["\x00"]}}\n')
    deep = tmp_path / "deep.hujson"
    deep.write_text("[" * 10_000 + "]" * 10_000)
    code, stdout, err = run_cli("merge", "--base", str(base), str(fifo), "/dev/zero", str(nul),
                                str(deep))
    assert code == 2
    assert stdout == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines[0] == "Cannot merge (4 problems); nothing was written:"
    assert lines[1] == f"  - {fifo}: the policy file is a named pipe (FIFO), not a regular file."
    assert lines[2] == "  - /dev/zero: the policy file is a device, not a regular file."
    assert lines[3] == f"  - {nul}: the policy file holds a NUL byte (line 1)."
    assert lines[4].startswith(f"  - {deep}:")


def test_merge_out_folder_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "base.hujson"
    base.write_text("{}\n")
    code, _, err = run_cli("merge", "--base", str(base), str(base), "--out", str(tmp_path))
    assert code == 2
    assert "is a folder" in err


# -- property: mutated stack files exit 0 or 2, never 1 -------------------------------

DEV_DATA = yaml.safe_load(DEV_TEXT)
EXAMPLES = int(os.environ.get("SAFE_INPUT_EXAMPLES", "60"))

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-10**120, max_value=10**120),
    st.floats(), st.text(max_size=20), st.sampled_from(["", " ", "\n", "tag:k8s", "group:x",
                                                        "²", "0", "yes", "~", "2024-01-01"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
noise = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["\n", " ", "\t", "  ", ":", "- ", "&a ", "*a", "!!str ", "{", "[", "'",
                     '"', "#", "\u00a0", "\u2028", "\ufeff", "\r\n", "%YAML 1.1\n", "---\n"]),
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


PATHS = _paths(DEV_DATA)


def _replace(data: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        return {**data, head: _replace(data[head], rest, new)}
    return [_replace(item, rest, new) if i == head else item for i, item in enumerate(data)]


@st.composite
def mutated_stack_files(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["value", "deep", "insert", "delete", "duplicate", "bytes"]))
    if kind == "value":
        data = _replace(DEV_DATA, draw(st.sampled_from(PATHS)), draw(values))
        return yaml.safe_dump(data, allow_unicode=draw(st.booleans())).encode()
    if kind == "deep":
        deep: Any = draw(scalars)
        for _ in range(draw(st.integers(1, 150))):
            deep = [deep] if draw(st.booleans()) else {"k": deep}
        return yaml.safe_dump(_replace(DEV_DATA, draw(st.sampled_from(PATHS)), deep)).encode()
    lines = DEV_TEXT.splitlines(keepends=True)
    if kind == "duplicate":
        index = draw(st.integers(0, len(lines) - 1))
        lines.insert(draw(st.integers(0, len(lines))), lines[index])
        return "".join(lines).encode()
    text = DEV_TEXT
    if kind == "delete":
        start = draw(st.integers(0, len(text)))
        return (text[:start] + text[start + draw(st.integers(1, 40)):]).encode()
    at = draw(st.integers(0, len(text)))
    if kind == "insert":
        return (text[:at] + draw(noise) + text[at:]).encode()
    data = text.encode()
    return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(content=mutated_stack_files())
def test_mutated_stack_files_exit_0_or_2_and_keep_the_old_plan_on_2(
    content: bytes, out: Path, tmp_path: Path
) -> None:
    config = tmp_path / "Pulumi.fuzz.yaml"
    config.write_bytes(content)
    before = snapshot(out)
    code, _, err = plan(out, config=config)
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert snapshot(out) == before
    else:
        assert sorted(p.name for p in out.iterdir()) == WRITTEN

