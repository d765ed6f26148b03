"""Run the `tailnet` program offline: StackReferences answer with given cluster stack outputs.

With `fleet.synthetic_fleet` or `fleet.cluster_stack_outputs(plan_cluster(...))` the outputs are
those the cluster stacks would really export, so the fleet policy can be reviewed (and tested)
without a Pulumi backend.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pulumi.runtime import mocks

from ..core.fleet import FLEET_NAMESPACE
from .runner import PreviewMocks, ProgramRun, run_program

STACK_REFERENCE = "pulumi:pulumi:StackReference"


class StackReferenceMocks(PreviewMocks):
    """PreviewMocks whose `pulumi.StackReference` reads return `stacks[name]` as outputs.

    A name missing from `stacks` reads as a stack without outputs, like a stack that was
    never deployed.
    """

    def __init__(self, stacks: Mapping[str, Mapping[str, Any]],
                 fail_on: Mapping[str, str] | None = None) -> None:
        super().__init__(fail_on)
        self.stacks = {name: dict(outputs) for name, outputs in stacks.items()}
        self.read: list[str] = []

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ != STACK_REFERENCE:
            return super().new_resource(args)
        name = str(args.inputs.get("name") or args.resource_id)
        self.read.append(name)
        return name, {"name": name, "outputs": self.stacks.get(name, {}),
                      "secretOutputNames": []}


def run_tailnet_program(program: Path,
                        stacks: Mapping[str, Mapping[str, Any]] | StackReferenceMocks,
                        config: Mapping[str, Any], *, stack_name: str = "fleet",
                        preview: bool = True) -> ProgramRun:
    """Run the tailnet `__main__.py` with `config` (keys without the namespace); `stacks` are
    the cluster stacks' outputs by stack name (or mocks holding them)."""
    program_mocks = (stacks if isinstance(stacks, StackReferenceMocks)
                     else StackReferenceMocks(stacks))
    full = {f"{FLEET_NAMESPACE}:{key}": value for key, value in config.items()}
    return run_program(program, project=FLEET_NAMESPACE, stack_name=stack_name, config=full,
                       preview=preview, program_mocks=program_mocks)
