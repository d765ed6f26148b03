"""Host the components as a Pulumi package, so that any Pulumi language can use them.

Pulumi runs this file (see PulumiPlugin.yaml) when a program adds the package with
`pulumi package add`; the schema, and from it the consumer's SDK, is inferred from the
components' `args` TypedDicts and `pulumi.Output` annotations.
"""

from pulumi import ComponentResource
from pulumi.provider.experimental import component_provider_host
from tailscale_cluster_access import (
    ClusterRoleBindings,
    SecureClusterAccess,
    SessionRecorder,
    TailnetFleetPolicy,
    TailnetPolicy,
    __version__,
)
from tailscale_cluster_access.resources.cluster_access import host_as_package

PACKAGE_NAME = "tailscale-cluster-access"

# The components that make sense on their own. TailscaleOperator and ApiServerProxy stay
# Python-only: their args are raw chart settings that only SecureClusterAccess keeps
# consistent with the grants (e.g. allowImpersonation for an auth-mode ProxyGroup).
COMPONENTS: list[type[ComponentResource]] = [
    SecureClusterAccess,
    TailnetPolicy,
    SessionRecorder,
    ClusterRoleBindings,
    TailnetFleetPolicy,
]

if __name__ == "__main__":
    host_as_package()
    component_provider_host(COMPONENTS, PACKAGE_NAME, version=__version__)
