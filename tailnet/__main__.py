"""The tailnet program: one tailnet policy for a fleet of clusters.

Every cluster stack (the program one directory up) runs with `policy.manage: false` and
exports its policy fragment; this program reads them through `pulumi.StackReference`,
checks that no two clusters share tags, hostnames or names, and writes the base policy
plus all fragments as the one tailnet policy file.
"""

import json
from pathlib import Path

import pulumi
from tailscale_cluster_access.resources.fleet_policy import TailnetFleetPolicy, load_fleet_stack

# The config is validated once; the component takes it as it is.
fleet = TailnetFleetPolicy.from_spec("fleet", load_fleet_stack(Path(__file__).resolve().parent))

pulumi.export("clusters", fleet.clusters)
pulumi.export("policy", fleet.policy)
pulumi.export("accessMatrix", fleet.access_matrix.apply(json.loads))
