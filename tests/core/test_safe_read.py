"""safe_read: one reader for every input file, and YAML that cannot hang or surprise."""

import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import BILLION_LAUGHS, deadline
from tailscale_cluster_access.core import safe_read
from tailscale_cluster_access.core.safe_read import (
    FileProblem,
    check_depth,
    load_yaml,
    read_text,
    read_yaml,
)


def problem(path: Path | str, **kwargs: Any) -> FileProblem:
    with deadline(5), pytest.raises(FileProblem) as caught:
        read_text(path, what="stack config file", **kwargs)
    assert str(caught.value).startswith(f"{path}: ")
    return caught.value


def yaml_problem(text: str) -> str:
    with deadline(5), pytest.raises(FileProblem) as caught:
        load_yaml(text, source="Pulumi.x.yaml")
    message = str(caught.value)
    assert message.startswith("Pulumi.x.yaml: ")
    return message


# -- read_text -----------------------------------------------------------------------


def test_reads_utf8_text_with_universal_newlines(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes("name: grüße\r\nx: 1\r".encode())
    assert read_text(path, what="file") == "name: grüße\nx: 1\n"


def test_missing_file(tmp_path: Path) -> None:
    found = problem(tmp_path / "nope.yaml")
    assert found.kind == "missing"
    assert "stack config file not found" in str(found)


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    found = problem(fifo)
    assert found.kind == "not-a-file"
    assert "named pipe (FIFO)" in str(found)


def test_fifo_swapped_in_after_the_check_does_not_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    regular = os.stat(__file__)
    monkeypatch.setattr(safe_read.os, "stat", lambda path: regular)
    assert "named pipe (FIFO)" in str(problem(fifo))


def test_device_folder_and_symlink_loop_are_refused(tmp_path: Path) -> None:
    assert "is a device" in str(problem("/dev/zero"))
    assert "is a folder" in str(problem(tmp_path))
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(tmp_path / "loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to(loop)
    found = problem(loop)
    assert found.kind == "unreadable"
    assert "symlink loop" in str(found)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text("x: 1\n")
    path.chmod(0)
    assert "Permission denied" in str(problem(path))


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("x" * 1025)
    assert problem(path, max_bytes=1024).kind == "too-large"
    assert "larger than 1 KiB" in str(problem(path, max_bytes=1024))
    path.write_text("x" * 1024)
    assert read_text(path, what="file", max_bytes=1024) == "x" * 1024


def test_size_limit_holds_when_the_file_grows_after_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("x" * 10_000)
    small = os.stat_result((stat.S_IFREG | 0o644, 0, 0, 1, 0, 0, 10, 0, 0, 0))
    monkeypatch.setattr(safe_read.os, "stat", lambda name: small)
    assert problem(path, max_bytes=100).kind == "too-large"


def test_nul_byte_and_bad_utf8_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(b"a: 1\nb: x\x00y\n")
    found = problem(path)
    assert found.kind == "encoding"
    assert "NUL byte (line 2)" in str(found)
    path.write_bytes(b"a: 1\n\nb: \xff\n")
    assert "not UTF-8 text (line 3" in str(problem(path))


def test_nul_in_the_file_name(tmp_path: Path) -> None:
    assert "bad file name" in str(problem(f"{tmp_path}/a\x00b"))


# -- load_yaml -------------------------------------------------------------------------


def test_plain_values_only() -> None:
    text = (Path(__file__).parents[2] / "stacks" / "Pulumi.dev.yaml").read_text()
    assert load_yaml(text, source="dev") == yaml.safe_load(text)
    assert load_yaml("", source="x") is None
    assert load_yaml("a: 2024-01-01\nb: 2024-01-01T10:00:00Z\n", source="x") == {
        "a": "2024-01-01", "b": "2024-01-01T10:00:00Z"}
    assert load_yaml("a: [1, 1.5, true, null, '1']\n", source="x") == {
        "a": [1, 1.5, True, None, "1"]}


def test_merge_keys_still_work() -> None:
    data = load_yaml("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 3\n", source="x")
    assert data["c"] == {"x": 3, "y": 2}


def test_duplicate_keys_name_both_lines() -> None:
    message = yaml_problem("config:\n  a: 1\n  b: 2\n  a: 3\n")
    assert "line 4: config.a: duplicate key (first at line 2" in message
    assert "keep one" in message


def test_duplicate_keys_are_refused_deep_inside() -> None:
    message = yaml_problem("config:\n  x:\n    - {k: 1, k: 2}\n")
    assert "config.x[0].k: duplicate key" in message


@pytest.mark.parametrize(("key", "reads_as"), [
    ("2024-01-01", "a date"), ("1", "an integer"), ("null", "null"), ("~", "null"),
    ("yes", "a boolean"), ("1.5", "a number"),
])
def test_keys_must_be_strings(key: str, reads_as: str) -> None:
    message = yaml_problem(f"config:\n  {key}: x\n")
    assert f"line 2: config: the key {key!r} is not a string (YAML reads it as {reads_as})" \
        in message
    assert yaml_problem("config:\n  ? [a]\n  : x\n").endswith("a key is a list, not a string.")


def test_billion_laughs_is_refused_fast() -> None:
    assert "aliases are expanded" in yaml_problem(BILLION_LAUGHS)


def test_too_many_aliases() -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * 101) + "]\n"
    assert "more than 100 aliases" in yaml_problem(text)
    assert load_yaml("a: &a x\nb: [" + ", ".join(["*a"] * 100) + "]\n", source="x")["b"][0] == "x"


def test_recursive_alias() -> None:
    assert "refers to a value that contains it" in yaml_problem("a: &a [1, *a]\n")


@pytest.mark.parametrize("text", [
    "[" * 10_000 + "]" * 10_000,
    "{a: " * 10_000 + "1" + "}" * 10_000,
    "".join(f"{'  ' * i}k:\n" for i in range(150)),
    "[" * 1_000_000,
])
def test_deep_nesting(text: str) -> None:
    assert "nested more than 100 levels deep" in yaml_problem(text)


def test_nesting_up_to_the_limit_is_fine() -> None:
    assert load_yaml("[" * 100 + "]" * 100, source="x") is not None


@pytest.mark.parametrize("number", ["9" * 5000, "-" + "1" * 101, "0x" + "f" * 200])
def test_huge_integers(number: str) -> None:
    assert "an integer with" in yaml_problem(f"config:\n  n: {number}\n")


def test_unsupported_tags() -> None:
    for text in ("a: !!binary aGk=\n", "a: !!set {x}\n", "a: !!python/name:os.system x\n",
                 "a: !custom x\n", "a: !!omap [{x: 1}]\n"):
        assert "is not supported" in yaml_problem(text)


def test_syntax_errors_name_line_and_column_but_not_content() -> None:
    message = yaml_problem("a: 1\nb: [tskey-secret\n")
    assert "not valid YAML: line " in message
    assert "tskey-secret" not in message
    assert "not valid YAML" in yaml_problem("a: 1\n---\nb: 2\n")


def test_the_checks_hold_with_libyaml_and_without(monkeypatch: pytest.MonkeyPatch) -> None:
    for base in {getattr(yaml, "CSafeLoader", yaml.SafeLoader), yaml.SafeLoader}:
        monkeypatch.setattr(safe_read, "_base_loader", lambda base=base: base)
        monkeypatch.setattr(safe_read, "StrictLoader", safe_read.strict_loader(base))
        assert "duplicate key" in yaml_problem("a: 1\na: 2\n")
        assert "aliases are expanded" in yaml_problem(BILLION_LAUGHS)
        assert "nested more than" in yaml_problem("[" * 10_000)
        assert "not a string" in yaml_problem("2024-01-01: x\n")
        assert "an integer with" in yaml_problem("a: " + "1" * 5000)
        assert load_yaml("a: 2024-01-01\n", source="x") == {"a": "2024-01-01"}


def test_libyaml_is_used_when_available() -> None:
    if getattr(yaml, "__with_libyaml__", False):
        assert issubclass(safe_read.StrictLoader, yaml.CSafeLoader)


def test_read_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dup.yaml"
    path.write_text("a: 1\na: 2\n")
    with pytest.raises(FileProblem, match=rf"^{path}: line 2: a: duplicate key"):
        read_yaml(path, what="stack config file")


# -- check_depth -----------------------------------------------------------------------


def test_check_depth() -> None:
    check_depth({"a": [[1]]}, 3)
    with pytest.raises(FileProblem, match=r"^p\.json: a\[0\]: values are nested more than 2"):
        check_depth({"a": [[1]]}, 2, source="p.json")
    deep: list[Any] = []
    for _ in range(100_000):  # deeper than Python's recursion limit
        deep = [deep]
    with pytest.raises(FileProblem):
        check_depth(deep, 100)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(FileProblem):
        check_depth(loop, 100)


def test_json_nested_past_any_recursion_limit_is_a_file_problem() -> None:
    from tailscale_cluster_access.core.safe_read import load_json

    for text in ("[" * 100_000 + "]" * 100_000, "[" * 101 + "]" * 101):
        with pytest.raises(FileProblem, match="nested more than"):
            load_json(text, source="access.json")
    assert load_json('[{"a": [1]}]', source="access.json") == [{"a": [1]}]


def test_yaml_streams_are_refused_like_single_documents() -> None:
    from tailscale_cluster_access.core.safe_read import load_yaml_documents

    assert load_yaml_documents("a: 1\n---\nb: 2\n", source="helm-values.yaml") == [
        {"a": 1}, {"b": 2}]
    with pytest.raises(FileProblem, match="nested more than"):
        load_yaml_documents("a: 1\n---\nb: " + "[" * 1000, source="helm-values.yaml")
