"""The policy evaluator alone, in one process: time per N as N doubles (issue 25).

Two shapes, each with N tests Tailscale would run on every write of the policy: one rule
whose `src` lists N groups (a test per member), and N address rules (a test per rule). Each
test asserts one accept and one deny. Printed as JSON for bench/run.py; linear growth shows as
a flat cost per unit. `python bench/evaluator_scale.py 1000 2000` measures other sizes.
"""

import json
import sys
from collections.abc import Callable
from typing import Any

from core_scale import best_of  # bench/ is the script's folder, first on sys.path
from tailscale_cluster_access.core.policy.evaluate import run_tests

SIZES = (1000, 2000, 4000)


def groups_policy(size: int) -> dict[str, Any]:
    """One rule whose `src` lists `size` groups of one member each, and a test per member."""
    groups = {f"group:team-{i}": [f"user{i}@example.com"] for i in range(size)}
    return {"groups": groups, "tagOwners": {"tag:k8s-operator": []},
            "acls": [{"action": "accept", "src": list(groups),
                      "dst": ["tag:k8s-operator:443"]}],
            "tests": [{"src": f"user{i}@example.com", "accept": ["tag:k8s-operator:443"],
                       "deny": ["tag:k8s-operator:80"]} for i in range(size)]}


def _address(first: int, i: int) -> str:
    return f"100.{first + i // 256}.{i % 256}"


def address_policy(size: int) -> dict[str, Any]:
    """`size` rules from one tailnet address to a /24, and a test per rule."""
    return {"acls": [{"action": "accept", "src": [f"{_address(64, i)}.1"],
                      "dst": [f"{_address(96, i)}.0/24:443"]} for i in range(size)],
            "tests": [{"src": f"{_address(64, i)}.1", "accept": [f"{_address(96, i)}.7:443"],
                       "deny": [f"{_address(96, i)}.7:80"]} for i in range(size)]}


SHAPES: dict[str, Callable[[int], dict[str, Any]]] = {
    "rule with N groups, N tests": groups_policy,
    "N address rules, N tests": address_policy,
}


def measure(sizes: tuple[int, ...] = SIZES, repeats: int = 3) -> dict[str, list[dict[str, float]]]:
    result: dict[str, list[dict[str, float]]] = {}
    for name, shape in SHAPES.items():
        for size in sizes:
            policy = shape(size)
            report = run_tests(policy)
            if not report.ok or report.passed != 2 * size:
                raise SystemExit(f"{name} at {size}: the tests do not all pass")
            seconds = best_of(repeats, lambda policy=policy: run_tests(policy))
            result.setdefault(name, []).append(
                {"size": size, "seconds": seconds, "us_per_unit": seconds / size * 1e6})
    return result


def main(argv: list[str]) -> None:
    sizes = tuple(int(arg) for arg in argv) or SIZES
    json.dump(measure(sizes), sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
