"""The stack program: secure kubectl access to one cluster, from this stack's config.

`pulumi up` runs it for real; `tailscale-cluster-access plan` runs this same file under
the Pulumi SDK's mocks to show reviewers what it would do.
"""

from pathlib import Path

import pulumi
from tailscale_cluster_access.cluster_access import SecureClusterAccess
from tailscale_cluster_access.fleet import fleet_identity
from tailscale_cluster_access.stack_config import load_stack

plan, args = load_stack(Path(__file__).resolve().parent)
cluster = SecureClusterAccess(plan.spec.cluster, args)  # type: ignore[arg-type]

pulumi.export("proxyHostname", cluster.proxy_hostname)
pulumi.export("proxyUrl", cluster.proxy_url)
pulumi.export("kubeconfigCommand", cluster.kubeconfig_command)
pulumi.export("oauthClientId", cluster.oauth_client_id)
pulumi.export("policyFragment", cluster.policy_fragment)
pulumi.export("accessMatrix", [row.to_json() for row in plan.access])
# What the `tailnet` program checks for collisions between the clusters of a fleet.
pulumi.export("fleetIdentity", {**fleet_identity(plan.spec), "hostname": cluster.proxy_hostname})
