"""The stack program: secure kubectl access to one cluster, from this stack's config.

`pulumi up` runs it for real; `tailscale-cluster-access plan` runs this same file under
the Pulumi SDK's mocks to show reviewers what it would do.
"""

from pathlib import Path

import pulumi
from tailscale_cluster_access.core.deploy import deploy_kubeconfig
from tailscale_cluster_access.core.fleet import cluster_stack_outputs
from tailscale_cluster_access.core.lockdown import lockdown
from tailscale_cluster_access.resources.cluster_access import SecureClusterAccess
from tailscale_cluster_access.resources.stack_config import load_stack

# The config is read and planned once; the component builds its resources from that plan.
plan = load_stack(Path(__file__).resolve().parent)
cluster = SecureClusterAccess.from_plan(plan.spec.cluster, plan)

pulumi.export("proxyUrl", cluster.proxy_url)
pulumi.export("kubeconfigCommand", cluster.kubeconfig_command)
pulumi.export("oauthClientId", cluster.oauth_client_id)
pulumi.export("operatorCredentials", plan.spec.oauth.credential_kind)
# proxyHostname, policyFragment, accessMatrix and fleetIdentity: what the `tailnet` program of
# a fleet reads (and checks for collisions), defined once beside that program's reader.
for key, value in cluster_stack_outputs(plan, cluster.proxy_hostname).items():
    pulumi.export(key, value)
# Whether the public endpoint can be closed now, and how (docs/lockdown.md).
pulumi.export("lockdown", lockdown(plan.spec, plan.access))
if plan.spec.deployer is not None:
    # What a later `pulumi up` through the tailnet gives its Kubernetes provider.
    pulumi.export("deployKubeconfig", cluster.proxy_url.apply(
        lambda url: deploy_kubeconfig(url) if url else None))
