"""The pure core alone, in one process: cost per access rule and per cluster as sizes double.

Printed as JSON for bench/run.py. Linear growth shows as a flat cost per unit.
"""

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tailscale_cluster_access.core.cluster_plan import plan_cluster
from tailscale_cluster_access.core.fleet import plan_fleet, synthetic_fleet

ROOT = Path(__file__).resolve().parent.parent
KUBERNETES_GROUPS = ("tailnet-readers", "tailnet-editors", "ml-operators")


def rules_config(rules: int) -> dict[str, Any]:
    return {
        "cluster": "gpu-bench",
        "policy": {"base": "policies/base.hujson"},
        "groups": {f"group:team-{i}": [f"user{i}@example.com"] for i in range(rules)},
        "access": [{"src": [f"group:team-{i}"],
                    "kubernetesGroups": [KUBERNETES_GROUPS[i % len(KUBERNETES_GROUPS)]]}
                   for i in range(rules)],
        "roleBindings": [{"group": "tailnet-readers", "clusterRole": "view"}],
    }


def best_of(repeats: int, work: Callable[[], object]) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> None:
    result: dict[str, list[dict[str, float]]] = {"rules": [], "clusters": []}
    for rules in (1000, 2000, 4000):
        config = rules_config(rules)
        seconds = best_of(3, lambda config=config: plan_cluster(config, ROOT))
        result["rules"].append({"size": rules, "seconds": seconds,
                                "us_per_unit": seconds / rules * 1e6})
    for clusters in (50, 100, 200):
        stacks = synthetic_fleet(clusters, project_root=ROOT)
        outputs = sorted(stacks.items())
        seconds = best_of(3, lambda outputs=outputs: plan_fleet(outputs))
        result["clusters"].append({"size": clusters, "seconds": seconds,
                                   "us_per_unit": seconds / clusters * 1e6})
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
