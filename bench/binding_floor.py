"""The same-size SDK floor: a bare program registering N ClusterRoleBindings, and nothing else.

Run under the same mock runner (components/offline/runner.py) as `plan`, with the same SDK
imports as the stack program, and ended as the CLI ends (no interpreter teardown), so the only
difference from a plan of N bindings is the project's own work: config, policy, access matrix
and the plan files. The bindings are the plan's own (same metadata, subjects and roleRef),
so the SDK serialises the same inputs.
"""

import sys
from pathlib import Path

# What the stack program imports (as FLOOR_IMPORTS in bench/run.py).
import pulumi_kubernetes.core.v1
import pulumi_kubernetes.helm.v3
import pulumi_kubernetes.meta.v1  # noqa: F401
import pulumi_tailscale  # noqa: F401
from tailscale_cluster_access.offline.fast_exit import exit_without_teardown
from tailscale_cluster_access.offline.runner import run_program

PROGRAM = '''
import pulumi
from pulumi_kubernetes.rbac import v1 as rbac

for i in range({count}):
    rbac.ClusterRoleBinding(
        f"bindings-team-{{i}}-view",
        metadata={{"name": f"team-{{i}}-view",
                  "labels": {{"app.kubernetes.io/managed-by": "tailscale-cluster-access"}}}},
        subjects=[{{"kind": "Group", "name": f"team-{{i}}",
                    "apiGroup": "rbac.authorization.k8s.io"}}],
        role_ref={{"kind": "ClusterRole", "name": "view",
                   "apiGroup": "rbac.authorization.k8s.io"}},
    )
pulumi.export("count", {count})
'''


def main(count: int, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    program = directory / "__main__.py"
    program.write_text(PROGRAM.format(count=count))
    run = run_program(program, project="binding-floor", stack_name="floor", config={})
    if len(run.registrations) != count:
        raise SystemExit(f"expected {count} registrations, got {len(run.registrations)}")


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
    exit_without_teardown(0)  # as the CLI ends
