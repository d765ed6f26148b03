"""TailnetFleetPolicy: one tailnet policy for many clusters, from their stacks' outputs.

Each cluster stack runs with `policy.manage: false`; this component reads their outputs with
`pulumi.StackReference`, refuses a fleet whose clusters collide (shared tags, hostnames or
cluster names, a cluster that writes the policy itself, conflicting definitions), and
writes the base policy plus every fragment with `TailnetPolicy`.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import pulumi

from ..core.fleet import FLEET_NAMESPACE, FleetPlan, parse_fleet_config, plan_fleet
from ..core.parts import FleetPolicyArgs
from ..core.problems import InvalidConfig
from .errors import InvalidArgs, read_args
from .kube import child_options
from .stack_config import raw_stack_config
from .tailnet_policy import TailnetPolicy

# The cluster stack outputs the fleet reads (see the cluster program, `__main__.py`).
CLUSTER_OUTPUTS = ("policyFragment", "accessMatrix", "proxyHostname", "fleetIdentity")


class TailnetFleetPolicyArgs(TypedDict):
    cluster_stacks: list[str]
    """The cluster stacks, as `<org>/<project>/<stack>`; each runs with `policy.manage: false`."""
    pending_clusters: NotRequired[list[str]]
    """Names of clusters whose stacks are not deployed yet: their per-cluster tags are added to
    tagOwners (no grants) so that their first `pulumi up` can create the OAuth client."""
    base: str
    """HuJSON text of the rest of the tailnet policy (groups, other teams' rules); kept unchanged.
    Required: `"{}"` replaces the whole policy on purpose."""
    adopt_existing: NotRequired[bool]
    """Overwrite a tailnet policy that Pulumi did not create yet. Export it into `base` first."""


class TailnetFleetPolicy(pulumi.ComponentResource):
    """The tailnet policy of a fleet: the base policy plus every cluster stack's fragment,
    checked for collisions between the clusters, written with `tailscale.Acl`."""

    policy: pulumi.Output[str]
    """The complete policy file that is written (HuJSON)."""
    access_matrix: pulumi.Output[str]
    """JSON list of the fleet's access rows: cluster, source, endpoint, ports, groups, roles,
    recording, posture."""
    clusters: pulumi.Output[list[str]]
    """The cluster names, in the order of `cluster_stacks`."""

    def __init__(self, name: str, args: TailnetFleetPolicyArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        settings, _ = read_args(FleetPolicyArgs, args, "TailnetFleetPolicy")
        self._create(name, settings, opts)

    @classmethod
    def from_spec(cls, name: str, settings: FleetPolicyArgs,
                  opts: pulumi.ResourceOptions | None = None) -> "TailnetFleetPolicy":
        """The component for settings already validated (the tailnet stack's config)."""
        component = cls.__new__(cls)
        component._create(name, settings, opts)
        return component

    def _create(self, name: str, settings: FleetPolicyArgs,
                opts: pulumi.ResourceOptions | None) -> None:
        super().__init__("tailscale-cluster-access:index:TailnetFleetPolicy", name, None, opts)
        stacks = list(settings.cluster_stacks)
        pending = list(settings.pending_clusters)
        base = settings.base
        # depends_on, retain_on_delete and custom_timeouts reach the policy (Pulumi passes
        # only protect and providers from a component to its children).
        child = child_options(self, opts)
        self.stack_references = [
            pulumi.StackReference(f"{name}-{stack}", stack_name=stack, opts=child)
            for stack in stacks]
        # get_output keeps each output's own secretness (the whole `outputs` map may be secret).
        per_stack = [pulumi.Output.all(*[ref.get_output(key) for key in CLUSTER_OUTPUTS])
                     for ref in self.stack_references]

        def check(values: Sequence[Sequence[Any]]) -> FleetPlan:
            outputs = [(stack, {key: value for key, value in zip(CLUSTER_OUTPUTS, found,
                                                                 strict=True)
                                if value is not None})
                       for stack, found in zip(stacks, values, strict=True)]
            try:
                plan = plan_fleet(outputs, base, pending=pending, base_source="base",
                                  subject=f"fleet {name!r}")
            except InvalidConfig as error:
                # Stack outputs are only known here, inside apply: fail the update with the list.
                raise InvalidArgs(error.render()) from None
            for warning in plan.warnings:
                pulumi.log.warn(warning, resource=self)
            return plan

        fleet = pulumi.Output.all(*per_stack).apply(check)
        # The policy the fleet plan verified is the text written.
        self.tailnet_policy = TailnetPolicy.from_rendered(
            f"{name}-policy", fleet.apply(lambda plan: plan.policy),
            adopt_existing=settings.adopt_existing, opts=child)
        self.policy = self.tailnet_policy.policy
        self.access_matrix = fleet.apply(lambda plan: plan.access_json)
        self.clusters = fleet.apply(lambda plan: plan.clusters)
        self.register_outputs({"policy": self.policy, "access_matrix": self.access_matrix,
                               "clusters": self.clusters})


def load_fleet_stack(project_root: Path, namespace: str = FLEET_NAMESPACE) -> FleetPolicyArgs:
    """The tailnet stack's config, validated (errors name config keys, without a traceback)."""
    try:
        return parse_fleet_config(raw_stack_config(namespace), project_root,
                                  prefix=f"{namespace}:",
                                  subject=f"configuration of stack '{pulumi.get_stack()}'")
    except InvalidConfig as error:
        raise pulumi.RunError(error.render()) from None
