"""The benchmark's synthetic inputs stay valid configurations (timings are not tested)."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from conftest import NAMESPACE, PROJECT_ROOT
from tailscale_cluster_access.core.cluster_plan import ClusterPlan, plan_cluster


def bench_module(name: str) -> ModuleType:
    path = PROJECT_ROOT / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    # As when run as a script: bench/ first on sys.path, for the scripts' shared helpers.
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def plan_stack_file(path: Path) -> ClusterPlan:
    config = yaml.safe_load(path.read_text())["config"]
    raw = {key.split(":", 1)[1]: value for key, value in config.items()
           if key.startswith(f"{NAMESPACE}:")}
    return plan_cluster(raw, PROJECT_ROOT)


def test_synthetic_stack_files_plan(tmp_path: Path) -> None:
    path = bench_module("run").synthetic_stack(25, tmp_path)
    plan = plan_stack_file(path)
    assert len([row for row in plan.access if row.kind == "grant"]) == 25


def test_core_scale_configs_plan() -> None:
    plan = plan_cluster(bench_module("core_scale").rules_config(25), PROJECT_ROOT)
    assert len([row for row in plan.access if row.kind == "grant"]) == 25


def test_synthetic_binding_stack_has_a_binding_per_rule(tmp_path: Path) -> None:
    path = bench_module("run").synthetic_binding_stack(25, tmp_path)
    plan = plan_stack_file(path)
    assert len([row for row in plan.access if row.kind == "grant"]) == 25
    assert len(plan.spec.role_bindings) == 25
    assert plan.spec.cluster_roles_for("team-7") == ("view",)


def test_fleet_plan_runs_a_small_fleet() -> None:
    bench_module("fleet_plan").main(3)


def test_ratios_pair_each_run_with_the_floor_run_beside_it() -> None:
    run = bench_module("run")
    floor = run.Case("floor", [], "floor", seconds=[1.0, 2.0, 1.0], cpu_seconds=[1.0, 1.0, 1.0])
    plan = run.Case("plan prod", [], "stack", seconds=[1.2, 2.2, 1.5],
                    cpu_seconds=[1.1, 1.2, 1.3])
    # Medians 1.5 / 1.0; run by run 1.2, 1.1, 1.5 (median 1.2); CPU 1.2 / 1.0.
    assert run.ratios(plan, floor, "ratio_to_floor") == {
        "ratio_to_floor": 1.5, "paired_ratio": 1.2, "cpu_ratio": 1.2}
    assert run.stack_summary([floor, plan]) == {
        "stacks": [{"case": "plan prod", "ratio_to_floor": 1.5, "paired_ratio": 1.2,
                    "cpu_ratio": 1.2}]}


def test_instruction_count_reads_cachegrinds_total(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PROJECT_ROOT / "bench"))  # it imports run.py beside it
    instructions = bench_module("instructions")
    stderr = ("==1314== Cachegrind, a cache and branch-prediction profiler\n"
              "==1314== Command: python bench/binding_floor.py 1000 /tmp/x\n==1314== \n"
              "==1314== I   refs:      12,833,971,263\n")
    assert instructions.instruction_count(stderr) == 12_833_971_263
    with pytest.raises(ValueError, match="I refs"):
        instructions.instruction_count("==1== Command: python\n")


def test_evaluator_shapes_are_policies_whose_tests_pass() -> None:
    # bench/evaluator_scale.py refuses to time a shape whose tests fail; small sizes here.
    shapes = bench_module("evaluator_scale").measure((5, 10), repeats=1)
    assert {len(entries) for entries in shapes.values()} == {2}
