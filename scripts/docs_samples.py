"""Fill the samples in README.md and docs/ from real plans, so no sample goes stale.

A sample sits between `<!-- sample:NAME:start -->` and `<!-- sample:NAME:end -->`. NAME is
`<stack>/<plan file>` (the file as `make plan` writes it; `.mmd` files are fenced as Mermaid).
`make docs` rewrites every sample; `tests/test_docs.py` fails when one differs from the plan.
Other names (e.g. `library-python`) are checked by their own tests and left as written.
"""

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ("README.md", "docs/*.md")
SAMPLE = re.compile(
    r"(?P<open><!-- sample:(?P<name>[^ ]+):start -->\n)(?P<body>.*?)(?P<close><!-- "
    r"sample:(?P=name):end -->)", re.S)
PLAN_FILE = re.compile(r"^(?P<stack>[a-z0-9-]+)/(?P<file>[a-z-]+\.(?:md|mmd|hujson|yaml|json))$")


def documents(root: Path = ROOT) -> Iterator[Path]:
    for pattern in DOCUMENTS:
        yield from sorted(root.glob(pattern))


def plan_samples(text: str) -> set[tuple[str, str]]:
    """(stack, plan file) of every plan sample in `text`."""
    found = set()
    for match in SAMPLE.finditer(text):
        plan_file = PLAN_FILE.match(match["name"])
        if plan_file:
            found.add((plan_file["stack"], plan_file["file"]))
    return found


def rendered(plan_file: str, content: str) -> str:
    if plan_file.endswith(".mmd"):
        return f"```mermaid\n{content}```\n"
    if plan_file.endswith(".md"):
        # The file's own title would be a second page title inside a document.
        title, _, rest = content.partition("\n")
        return rest.lstrip("\n") if title.startswith("# ") else content
    language = {"hujson": "jsonc", "yaml": "yaml", "json": "json"}[plan_file.rsplit(".", 1)[1]]
    return f"```{language}\n{content}```\n"


def fill(text: str, plans: Path) -> str:
    """`text` with every plan sample replaced by the file of the plans under `plans/<stack>`."""
    def replace(match: re.Match[str]) -> str:
        plan_file = PLAN_FILE.match(match["name"])
        if not plan_file:
            return match[0]
        content = (plans / plan_file["stack"] / plan_file["file"]).read_text()
        return match["open"] + rendered(plan_file["file"], content) + match["close"]

    return SAMPLE.sub(replace, text)


def make_plans(stacks: set[str], plans: Path, run: Callable[..., object] = subprocess.run) -> None:
    for stack in sorted(stacks):
        run([sys.executable, "-m", "tailscale_cluster_access", "plan", "--stack", stack,
             "--out", str(plans / stack), "--project", str(ROOT)],
            check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    plans = ROOT / "build" / "docs-plans"
    texts = {path: path.read_text() for path in documents()}
    stacks = {stack for text in texts.values() for stack, _ in plan_samples(text)}
    make_plans(stacks, plans)
    for path, text in texts.items():
        updated = fill(text, plans)
        if updated != text:
            path.write_text(updated)
            print(f"updated {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
