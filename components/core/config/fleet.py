"""The tailnet (fleet) stack's config: which cluster stacks, which pending clusters, and the
base policy."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..base_policy import read_base_policy
from ..parts import BASE_WHY, FleetPolicyArgs, FleetStackConfig
from ..problems import InvalidConfig
from .reader import SpecReader, join


def check_fleet_config(reader: SpecReader, config: FleetStackConfig, path: str,
                       given: frozenset[str]) -> None:
    # A fleet's first cluster is pending before any cluster stack is deployed.
    if not config.clusters and not config.pending_clusters and "clusters" not in given:
        reader.problem("clusters", "is required.",
                       "list the cluster stacks, e.g. [acme/tailscale-cluster-access/gpu-east, "
                       "acme/tailscale-cluster-access/gpu-west].")
    elif not config.clusters and not config.pending_clusters:
        reader.problem("clusters", "must not be empty.",
                       "list the cluster stacks as `<org>/<project>/<stack>`, or the new "
                       "clusters under pendingClusters.")
    if not config.policy.base:
        reader.problem("policy.base", f"is required: {BASE_WHY}.",
                       "export the live policy into a file and point policy.base at it; to "
                       "replace the whole policy on purpose, point it at a file that holds {}.")
        if config.policy.adopt_existing:
            reader.problem("policy.adoptExisting",
                           "would replace the live policy with the clusters' fragments only.",
                           "export the live policy into a file and set policy.base to it "
                           "first, so that other teams' rules survive.")


def check_fleet_args(reader: SpecReader, args: FleetPolicyArgs, path: str,
                     given: frozenset[str]) -> None:
    # A fleet's first cluster is pending before any cluster stack is deployed.
    if "cluster_stacks" in given and not args.cluster_stacks and not args.pending_clusters:
        reader.problem(join(path, "clusterStacks"), "must not be empty.",
                       "list the cluster stacks as `<org>/<project>/<stack>`, or the new "
                       "clusters under pendingClusters.")


def parse_fleet_config(raw: Mapping[str, Any], project_root: Path, *, prefix: str = "",
                       subject: str = "configuration") -> FleetPolicyArgs:
    """Validate the tailnet stack's config (`clusters`, `pendingClusters`, `policy.base`,
    `policy.adoptExisting`) into what TailnetFleetPolicy takes, the base read."""
    reader = SpecReader("config")
    config = reader.read(FleetStackConfig, raw)
    problems = reader.problems
    base_text = ""
    if config.policy.base:
        _, base_text, found = read_base_policy(config.policy.base, project_root)
        problems += found
    if problems:
        raise InvalidConfig(problems, prefix=prefix, subject=subject)
    return FleetPolicyArgs(cluster_stacks=config.clusters, base=base_text,
                           pending_clusters=config.pending_clusters,
                           adopt_existing=config.policy.adopt_existing)
