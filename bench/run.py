"""How fast a plan is, and how its cost grows. Run with `make bench`.

Every measurement is a fresh process, so import time (paid by every `pulumi preview` and
`pulumi up`) is included. Runs are interleaved round-robin so that machine noise spreads over
all cases alike; the ratio to the floor, measured in the same run, is what to compare.
"""

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
NAMESPACE = "tailscale-cluster-access"
# What the stack program itself imports: the floor no plan can go below. The SDK loads
# meta.v1 (ObjectMeta) for the outputs of every Kubernetes resource a program registers.
FLOOR_IMPORTS = ("import pulumi, pulumi_tailscale, pulumi_kubernetes.core.v1, "
                 "pulumi_kubernetes.helm.v3, pulumi_kubernetes.meta.v1, pulumi_kubernetes.rbac.v1")
# The floors end as the CLI does (offline/fast_exit.py): exit handlers, no interpreter
# teardown, which would otherwise count in the floors only.
FLOOR_PROGRAM = FLOOR_IMPORTS + "; import atexit, os; atexit._run_exitfuncs(); os._exit(0)"
# The warm-up run writes bytecode as on a user's machine; with PYTHONDONTWRITEBYTECODE set
# (some sandboxes and CI images set it) every run would compile the project's modules again.
_CHILD_ENV = {key: value for key, value in os.environ.items()
              if key != "PYTHONDONTWRITEBYTECODE"}
RULE_COUNTS = (1, 10, 100, 1000)
# Issue 15: one team group, one Kubernetes group and one ClusterRoleBinding per access rule.
BINDING_COUNTS = (1000, 2000)
FLEET_SIZES = (1, 10, 50)
# Groups measured in one process by a script of their own, not as plan processes.
IN_PROCESS_GROUPS = frozenset({"evaluator"})


@dataclass
class Case:
    name: str
    command: list[str]
    group: str
    size: int = 0
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    peak_mib: list[float] = field(default_factory=list)

    def run_once(self) -> None:
        started = time.perf_counter()
        process = subprocess.Popen(self.command, cwd=ROOT, env=_CHILD_ENV,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        stderr = process.stderr.read().decode() if process.stderr else ""
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{self.name} failed:\n{stderr}")
        self.seconds.append(elapsed)
        self.cpu_seconds.append(usage.ru_utime + usage.ru_stime)
        self.peak_mib.append(usage.ru_maxrss / 1024)  # Linux reports KiB

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.seconds), max(self.seconds)


KUBERNETES_GROUPS = ("tailnet-readers", "tailnet-editors", "ml-operators")


def _team_stack(name: str, rules: int, kubernetes_group: Callable[[int], str],
                role_bindings: list[dict[str, str]], directory: Path) -> Path:
    """A stack file with `rules` access rules, one per team group."""
    config = {
        f"{NAMESPACE}:cluster": "gpu-bench",
        f"{NAMESPACE}:policy": {"base": "policies/base.hujson"},
        f"{NAMESPACE}:groups": {f"group:team-{i}": [f"user{i}@example.com"]
                                for i in range(rules)},
        f"{NAMESPACE}:access": [
            {"src": [f"group:team-{i}"], "kubernetesGroups": [kubernetes_group(i)]}
            for i in range(rules)],
        f"{NAMESPACE}:roleBindings": role_bindings,
    }
    path = directory / f"Pulumi.{name}-{rules}.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def synthetic_stack(rules: int, directory: Path) -> Path:
    """`rules` access rules over a few Kubernetes groups: the policy grows with the rules,
    the set of Kubernetes objects does not."""
    return _team_stack("rules", rules, lambda i: KUBERNETES_GROUPS[i % len(KUBERNETES_GROUPS)],
                       [{"group": "tailnet-readers", "clusterRole": "view"},
                        {"group": "tailnet-editors", "clusterRole": "edit"},
                        {"group": "ml-operators", "clusterRole": "admin"}], directory)


def synthetic_binding_stack(rules: int, directory: Path) -> Path:
    """Issue 15's stack: `rules` access rules, each with its own team group, its own
    Kubernetes group and its own ClusterRoleBinding (so `rules` bindings)."""
    return _team_stack("bindings", rules, lambda i: f"team-{i}",
                       [{"group": f"team-{i}", "clusterRole": "view"} for i in range(rules)],
                       directory)


# What `make plan` runs: the console script (no runpy frames under every resource's recorded
# call stack, as with `python -m`).
CONSOLE_SCRIPT = Path(PYTHON).parent / "tailscale-cluster-access"


def plan_command(stack: str, out: Path, config: Path | None = None) -> list[str]:
    program = ([str(CONSOLE_SCRIPT)] if CONSOLE_SCRIPT.exists()
               else [PYTHON, "-m", "tailscale_cluster_access"])
    command = [*program, "plan", "--stack", stack, "--out", str(out)]
    if config is not None:
        command += ["--config", str(config)]
    return command


def build_cases(work: Path, include_fleet: bool,
                groups: frozenset[str] | None = None) -> list[Case]:
    cases = _all_cases(work, include_fleet)
    # The import floor is always measured: every ratio is taken against it.
    return [c for c in cases if groups is None or c.group == "floor" or c.group in groups]


def _all_cases(work: Path, include_fleet: bool) -> list[Case]:
    cases = [Case("floor (SDK imports)", [PYTHON, "-c", FLOOR_PROGRAM], "floor")]
    for stack_file in sorted((ROOT / "stacks").glob("Pulumi.*.yaml")):
        stack = stack_file.name.split(".")[1]
        cases.append(Case(f"plan {stack}", plan_command(stack, work / stack), "stack"))
    for rules in RULE_COUNTS:
        config = synthetic_stack(rules, work)
        cases.append(Case(f"plan, {rules} access rules",
                          plan_command(f"rules-{rules}", work / f"rules-{rules}", config),
                          "rules", rules))
    for bindings in BINDING_COUNTS:
        config = synthetic_binding_stack(bindings, work)
        cases.append(Case(f"SDK floor, {bindings} bindings",
                          [PYTHON, str(ROOT / "bench" / "binding_floor.py"), str(bindings),
                           str(work / f"floor-{bindings}")], "binding-floor", bindings))
        cases.append(Case(f"plan, {bindings} bindings",
                          plan_command(f"bindings-{bindings}", work / f"bindings-{bindings}",
                                       config), "bindings", bindings))
    if include_fleet:
        for clusters in FLEET_SIZES:
            cases.append(Case(f"fleet, {clusters} clusters",
                              [PYTHON, str(ROOT / "bench" / "fleet_plan.py"), str(clusters)],
                              "fleet", clusters))
    return cases


def growth(cases: list[Case]) -> float | None:
    """Added time per unit at the largest size over that at the next one (1 = linear).

    None when the smaller step is lost in the noise (its added time is not positive)."""
    if len(cases) < 3:
        return None
    small, large = cases[-2], cases[-1]
    base = cases[0].median
    per_small = (small.median - base) / (small.size - cases[0].size)
    per_large = (large.median - base) / (large.size - cases[0].size)
    return per_large / per_small if per_small > 0 else None


def ratios(case: Case, floor: Case, name: str) -> dict[str, float]:
    """`case` over `floor` three ways: medians, the median of each run over the floor run next
    to it (less noise than medians), and median CPU time (user + system), which other load
    on the machine disturbs less."""
    return {name: round(case.median / floor.median, 3),
            "paired_ratio": round(statistics.median(
                c / f for c, f in zip(case.seconds, floor.seconds, strict=True)), 3),
            "cpu_ratio": round(statistics.median(case.cpu_seconds)
                               / statistics.median(floor.cpu_seconds), 3)}


def stack_summary(cases: list[Case]) -> dict[str, object]:
    """Each shipped stack over the import floor (issue 15: `prod` within 1.25x)."""
    floor = cases[0]
    rows = []
    for plan in (c for c in cases if c.group == "stack"):
        row = {"case": plan.name, **ratios(plan, floor, "ratio_to_floor")}
        rows.append(row)
        print(f"{plan.name} / import floor = {row['ratio_to_floor']:.2f} (paired "
              f"{row['paired_ratio']:.2f}, CPU time {row['cpu_ratio']:.2f})")
    return {"stacks": rows} if rows else {}


def binding_summary(cases: list[Case], floor: float) -> dict[str, object]:
    """Issue 15: each binding plan over the same-size SDK floor (a bare program registering
    as many ClusterRoleBindings under the same mock runner), and the cost per resource above
    the import floor at each size (flat = linear)."""
    floors = {c.size: c for c in cases if c.group == "binding-floor"}
    rows = []
    for plan in (c for c in cases if c.group == "bindings"):
        bare = floors.get(plan.size)
        if bare is None:
            continue
        row = {"bindings": plan.size, "plan_s": round(plan.median, 4),
               "floor_s": round(bare.median, 4), **ratios(plan, bare, "ratio_to_sdk_floor"),
               "plan_ms_per_binding": round((plan.median - floor) / plan.size * 1e3, 3),
               "floor_ms_per_binding": round((bare.median - floor) / bare.size * 1e3, 3)}
        rows.append(row)
        print(f"{plan.size} bindings: plan / same-size SDK floor = "
              f"{row['ratio_to_sdk_floor']:.2f} (paired {row['paired_ratio']:.2f}, CPU time "
              f"{row['cpu_ratio']:.2f}); per binding "
              f"above the import floor: plan {row['plan_ms_per_binding']:.2f} ms, "
              f"SDK floor {row['floor_ms_per_binding']:.2f} ms")
    return {"bindings": rows} if rows else {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per case (default 5)")
    parser.add_argument("--out", default=str(ROOT / "build" / "bench.json"))
    parser.add_argument("--only", action="append", metavar="GROUP",
                        help="measure only these groups (stack, rules, bindings, "
                             "binding-floor, fleet besides the import floor; evaluator on its "
                             "own); repeatable")
    args = parser.parse_args()
    only = frozenset(args.only) if args.only else None
    if only is not None and only <= IN_PROCESS_GROUPS:
        evaluator = evaluator_summary()
        _write(Path(args.out), {"python": sys.version.split()[0], "cpus": os.cpu_count(),
                                **evaluator})
        return 0
    include_fleet = (ROOT / "bench" / "fleet_plan.py").exists()

    with tempfile.TemporaryDirectory(prefix="tca-bench-") as temporary:
        cases = build_cases(Path(temporary), include_fleet, only)
        for case in cases:  # warm the file cache and bytecode before measuring
            case.run_once()
            case.seconds.clear()
            case.cpu_seconds.clear()
            case.peak_mib.clear()
        for _ in range(args.runs):
            for case in cases:
                case.run_once()

    floor = cases[0].median
    rows = []
    print(f"{'case':<28} {'median s':>9} {'min..max s':>13} {'x floor':>8} {'peak MiB':>9}")
    for case in cases:
        low, high = case.spread
        row = {"case": case.name, "group": case.group, "size": case.size,
               "median_s": round(case.median, 4), "min_s": round(low, 4),
               "max_s": round(high, 4), "ratio_to_floor": round(case.median / floor, 3),
               "peak_mib": round(max(case.peak_mib), 1), "runs": len(case.seconds),
               # Every run, in the order measured (round-robin), to pair or re-analyse.
               "seconds": [round(value, 4) for value in case.seconds],
               "cpu_seconds": [round(value, 4) for value in case.cpu_seconds]}
        rows.append(row)
        print(f"{case.name:<28} {case.median:>9.3f} {low:>6.3f}..{high:<6.3f} "
              f"{case.median / floor:>8.2f} {max(case.peak_mib):>9.1f}")
    summary: dict[str, Any] = {}
    for group in ("rules", "fleet"):
        factor = growth([case for case in cases if case.group == group])
        if factor is not None:
            summary[f"{group}_growth"] = round(factor, 2)
            print(f"{group}: cost per unit at the largest size / at the next one = {factor:.2f} "
                  "(1.0 = linear)")
    summary.update(stack_summary(cases))
    summary.update(binding_summary(cases, floor))
    core = json.loads(subprocess.run([PYTHON, str(ROOT / "bench" / "core_scale.py")], cwd=ROOT,
                                     check=True, capture_output=True, text=True).stdout)
    print("pure core in one process (best of 3), cost per unit as the size doubles:")
    for unit, entries in (("access rule", core["rules"]), ("cluster", core["clusters"])):
        figures = ", ".join(f"{e['size']}: {e['us_per_unit']:.0f} us" for e in entries)
        print(f"  per {unit}: {figures}")
    if only is None or "evaluator" in only:
        summary.update(evaluator_summary())
    result = {"python": sys.version.split()[0], "cpus": os.cpu_count(), "runs": args.runs,
              "floor_s": round(floor, 4), "cases": rows, "core": core, **summary}
    _write(Path(args.out), result)
    return 0


def evaluator_summary() -> dict[str, object]:
    """Issue 25: the evaluator running N tests on the two shapes of bench/evaluator_scale.py,
    in one process (best of 3), at N = 1,000, 2,000 and 4,000; doubling N about doubles the
    time when the work is linear."""
    shapes = json.loads(subprocess.run([PYTHON, str(ROOT / "bench" / "evaluator_scale.py")],
                                       cwd=ROOT, check=True, capture_output=True,
                                       text=True).stdout)
    print("policy evaluator in one process (best of 3), time per N:")
    for name, entries in shapes.items():
        figures = ", ".join(f"{e['size']}: {e['seconds']:.3f} s" for e in entries)
        doubling = " ".join(f"x{later['seconds'] / earlier['seconds']:.2f}"
                            for earlier, later in itertools.pairwise(entries))
        print(f"  {name}: {figures} (as N doubles: {doubling})")
    return {"evaluator": shapes}


def _write(out: Path, result: dict[str, object]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    sys.exit(main())
