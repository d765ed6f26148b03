"""The documentation a newcomer reads: short README, links that resolve, samples from real
plans and snippets that run."""

import re
import sys
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT
from tailscale_cluster_access.offline import run_program

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import docs_samples

README = PROJECT_ROOT / "README.md"
DOCUMENTS = [*docs_samples.documents(PROJECT_ROOT), PROJECT_ROOT / "ARCHITECTURE.md",
             PROJECT_ROOT / "CONTRIBUTING.md"]
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    return {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_readme_fits_on_a_few_screens() -> None:
    assert len(README.read_text().splitlines()) <= 250


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    broken = []
    for match in LINK.finditer(FENCE.sub("", document.read_text())):
        target = match["target"]
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (document.parent / file_part).resolve() if file_part else document
        missing_anchor = anchor and resolved.suffix == ".md" and anchor not in anchors(resolved)
        if not resolved.exists() or missing_anchor:
            broken.append(target)
    assert broken == []


def test_plan_samples_are_what_make_plan_writes(tmp_path: Path) -> None:
    texts = {path: path.read_text() for path in docs_samples.documents(PROJECT_ROOT)}
    stacks = {stack for text in texts.values() for stack, _ in docs_samples.plan_samples(text)}
    assert stacks, "the docs show no plan sample"
    docs_samples.make_plans(stacks, tmp_path)
    stale = [str(path.relative_to(PROJECT_ROOT)) for path, text in texts.items()
             if docs_samples.fill(text, tmp_path) != text]
    assert stale == [], "run `make docs` to refresh the samples"


def test_fill_replaces_only_plan_samples(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "graph.mmd").write_text("flowchart TD\n")
    text = ("a\n<!-- sample:dev/graph.mmd:start -->\nold\n<!-- sample:dev/graph.mmd:end -->\n"
            "<!-- sample:snippet:start -->\nkept\n<!-- sample:snippet:end -->\n")
    assert docs_samples.fill(text, tmp_path) == (
        "a\n<!-- sample:dev/graph.mmd:start -->\n```mermaid\nflowchart TD\n```\n"
        "<!-- sample:dev/graph.mmd:end -->\n"
        "<!-- sample:snippet:start -->\nkept\n<!-- sample:snippet:end -->\n")


def snippet(name: str) -> str:
    match = re.search(rf"<!-- sample:{name}:start -->\n```python\n(.*?)```\n", README.read_text(),
                      re.S)
    assert match, f"README has no {name} snippet"
    return match[1]


def test_the_python_library_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program = tmp_path / "__main__.py"
    program.write_text(snippet("library-python"))
    (tmp_path / "policies").mkdir()
    base = (PROJECT_ROOT / "policies" / "base.hujson").read_text()
    (tmp_path / "policies" / "base.hujson").write_text(base)
    monkeypatch.chdir(tmp_path)
    run = run_program(program, project="library-user", stack_name="dev", config={})
    types = {registration.type for registration in run.registrations}
    assert "tailscale-cluster-access:index:SecureClusterAccess" in types
    assert "tailscale:index/acl:Acl" in types
