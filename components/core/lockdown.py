"""Lockdown: whether the public API server endpoint can be closed, and how, per cloud.

`ready` is decided from the access matrix rows, by their kinds: a `deployer` row (the
machine that runs `pulumi up` through the tailnet) and a `break-glass` row must exist, and
some way in must not fail closed (`policy.blast_radius`: an enforcing recorder grant refuses
every request while the recorder is down). The cloud settings were checked against the
providers' SDK argument classes (tests/core/test_lockdown_clouds.py; docs/lockdown.md says
what was verified where).
"""

import re
from collections.abc import Sequence
from typing import Any, Final

from .policy.access import BREAK_GLASS, DEPLOYER, AccessRow
from .policy.blast_radius import failing_closed, ways_in_without_recorder
from .spec import ClusterAccessSpec

# Issuers whose discovery document and keys the cloud serves publicly, not the API server.
PUBLIC_ISSUERS: Final = (
    ("EKS", re.compile(r"^https://oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/id/[^/]+/?$")),
    ("GKE", re.compile(r"^https://container\.googleapis\.com/v1/projects/[^/]+/"
                       r"locations/[^/]+/clusters/[^/]+/?$")),
    ("AKS", re.compile(r"^https://[a-z0-9-]+\.oic\.prod-aks\.azure\.com/")),
)

SETTINGS: Final[dict[str, dict[str, Any]]] = {
    "eks": {
        "resource": "aws.eks.Cluster",
        "set": {"vpc_config.endpoint_public_access": False,
                "vpc_config.endpoint_private_access": True},
    },
    "gke": {
        "resource": "gcp.container.Cluster",
        "set": {"private_cluster_config.enable_private_nodes": True,
                "private_cluster_config.enable_private_endpoint": True,
                "control_plane_endpoints_config.dns_endpoint_config.allow_external_traffic":
                    False},
    },
    "aks": {
        "resource": "azure-native.containerservice.ManagedCluster",
        "set": {"api_server_access_profile.enable_private_cluster": True,
                "api_server_access_profile.disable_run_command": True,
                "disable_local_accounts": True},
    },
}

SIDE_DOORS: Final = {
    "eks": [
        "the cluster creator's admin access entry (access_config."
        "bootstrap_cluster_creator_admin_permissions, default true): list access entries and "
        "remove those you do not mean to keep (aws eks list-access-entries)",
        "aws-auth ConfigMap mappings while access_config.authentication_mode still includes "
        "CONFIG_MAP",
        "vpc_config.public_access_cidrs only matters while the public endpoint is on",
    ],
    "gke": [
        "the DNS-based endpoint (<uid>.<region>.gke.goog) is public and IAM-authorized: "
        "control_plane_endpoints_config.dns_endpoint_config.allow_external_traffic=false",
        "control_plane_endpoints_config.dns_endpoint_config.enable_k8s_tokens_via_dns and "
        "enable_k8s_certs_via_dns, while the DNS endpoint takes external traffic",
        "master_authorized_networks_config.gcp_public_cidrs_access_enabled",
        "legacy client certificates and basic auth (master_auth)",
    ],
    "aks": [
        "local accounts (az aks get-credentials --admin): disable_local_accounts=true",
        "run command (az aks command invoke) reaches the API server through Azure: "
        "api_server_access_profile.disable_run_command=true",
        "api_server_access_profile.enable_private_cluster_public_fqdn (a public DNS name)",
    ],
}

REOPEN: Final = {
    "eks": "aws eks update-cluster-config --name <cluster> --resources-vpc-config "
           "endpointPublicAccess=true,publicAccessCidrs=<your-ip>/32",
    "gke": "gcloud container clusters update <cluster> --location <location> "
           "--no-enable-private-endpoint (or reach the IAM-authorized DNS endpoint: "
           "--enable-dns-access)",
    "aks": "az aks update --name <cluster> --resource-group <group> --disable-private-cluster "
           "(clusters with API server VNet integration); on a public cluster narrowed by "
           "authorized ranges: --api-server-authorized-ip-ranges <your-ip>/32",
}


def public_issuer(issuer: str) -> str:
    """The cloud that publishes `issuer`'s discovery endpoints ("" when self-hosted)."""
    for cloud, pattern in PUBLIC_ISSUERS:
        if pattern.match(issuer):
            return cloud
    return ""


def creates_discovery_binding(spec: ClusterAccessSpec) -> bool:
    """The anonymous `oidc-discovery` binding: asked for, and the issuer is self-hosted."""
    identity = spec.oauth.workload_identity
    return (identity is not None and identity.allow_public_discovery
            and not public_issuer(identity.issuer))


def discovery_warnings(spec: ClusterAccessSpec) -> list[str]:
    identity = spec.oauth.workload_identity
    if identity is None or not identity.allow_public_discovery:
        return []
    cloud = public_issuer(identity.issuer)
    if not cloud:
        return []
    where = f"{spec.cluster}: " if spec.cluster else ""
    return [f"{where}oauth.workloadIdentity.allowPublicDiscovery is ignored: {cloud} serves "
            f"the issuer's discovery document and keys itself, so no binding to "
            "system:unauthenticated is created (remove the setting)."]


def blockers(spec: ClusterAccessSpec, rows: Sequence[AccessRow]) -> list[str]:
    """Why the public endpoint cannot be closed yet (empty: it can)."""
    found: list[str] = []
    kinds = {row.kind for row in rows}
    deployers = [row for row in rows if row.kind == DEPLOYER]
    if not deployers:
        found.append("no deployer path: `pulumi up` would lose the cluster (set `deployer`, "
                     "and run it from a machine tagged with deployer.tag)")
    elif all(row.fails_closed for row in deployers):
        found.append("the deployer fails closed when the recorder is down (an enforcing "
                     "recorder grant matches it)")
    if BREAK_GLASS not in kinds:
        found.append("no break-glass path: nobody gets in when the recorder is down (set "
                     "`breakGlass`)")
    if failing_closed(rows) and not ways_in_without_recorder(rows):
        found.append("every identity fails closed when the recorder is down: nobody could "
                     "get in to fix it")
    if spec.deployer is not None and not spec.endpoint_url and not spec.proxy.high_availability:
        found.append("deployKubeconfig has no server: set `tailnetDomain` so the in-process "
                     "proxy's URL is known")
    identity = spec.oauth.workload_identity
    if identity is not None and not public_issuer(identity.issuer):
        found.append(f"workload identity's issuer {identity.issuer} is self-hosted: Tailscale "
                     "fetches its discovery document and keys anonymously from the API "
                     "server, which then needs a public endpoint (publish them elsewhere, e.g. "
                     "--service-account-jwks-uri and a public bucket, or use an OAuth client)")
    return found


def lockdown(spec: ClusterAccessSpec, rows: Sequence[AccessRow]) -> dict[str, Any]:
    """The `lockdown` stack output."""
    reasons = blockers(spec, rows)
    return {
        "ready": not reasons,
        "notReadyBecause": reasons,
        "settings": {cloud: {"resource": entry["resource"], "set": dict(entry["set"])}
                     for cloud, entry in SETTINGS.items()},
        "sideDoors": {cloud: list(doors) for cloud, doors in SIDE_DOORS.items()},
        "reopen": dict(REOPEN),
    }
