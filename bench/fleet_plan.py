"""One fleet plan in a fresh process: N really planned cluster stacks -> the tailnet program."""

import sys
from pathlib import Path

from tailscale_cluster_access.core.fleet import synthetic_fleet
from tailscale_cluster_access.offline.fast_exit import exit_without_teardown
from tailscale_cluster_access.offline.fleet_runner import run_tailnet_program

ROOT = Path(__file__).resolve().parent.parent


def main(count: int) -> None:
    stacks = synthetic_fleet(count, project_root=ROOT)
    run = run_tailnet_program(ROOT / "tailnet" / "__main__.py", stacks,
                              {"clusters": sorted(stacks),
                               "policy": {"base": str(ROOT / "bench" / "empty-policy.hujson")}})
    rows = run.outputs["accessMatrix"]
    if len({row["cluster"] for row in rows}) != count:
        raise SystemExit("the fleet access matrix does not cover every cluster")


if __name__ == "__main__":
    main(int(sys.argv[1]))
    exit_without_teardown(0)  # as the CLI ends, and the floor
