"""The validated model of one cluster's tailnet access: plain data, no Pulumi.

Everything the stack creates (policy sections, Helm values, custom resources,
bindings, the access matrix) is derived from one `ClusterAccessSpec`, so the
grant destinations, ports, recorder rules and tests cannot disagree.
"""

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from .identifiers import DNS_LABEL

# Chart 1.88 fixed the ProxyGroup DNS bug (tailscale/tailscale#16920). The default was checked
# against the v1.102.3 chart values and CRDs (ProxyGroup, Recorder, ProxyClass; see the README).
DEFAULT_CHART_VERSION = "1.102.3"
MIN_CHART_VERSION = (1, 88, 0)
# Releases whose chart cannot run the operator the way this package installs it.
BROKEN_CHART_VERSIONS = {
    "1.92.3": "ignores oauthSecretVolume unless oauth.clientSecret is also set, and the operator "
    "then fails with 'CLIENT_ID_FILE and CLIENT_SECRET_FILE must be set' "
    "(tailscale/tailscale#18228, #18236; fixed by #18230).",
}
# Workload identity federation is broken in operator 1.98.0-1.98.3 (inclusive).
WORKLOAD_IDENTITY_BROKEN_CHART_VERSIONS = ((1, 98, 0), (1, 98, 3))
WORKLOAD_IDENTITY_BROKEN_REASON = (
    "breaks workload identity federation (tailscale/tailscale#19844, #19919; fixed in 1.98.4).")
# `enableEvents` (recording every API request) needs operator >= 1.96.
MIN_CHART_VERSION_FOR_EVENTS = (1, 96, 0)

HELM_REPOSITORY = "https://pkgs.tailscale.com/helmcharts"
HELM_CHART = "tailscale-operator"

KUBERNETES_CAPABILITY = "tailscale.com/cap/kubernetes"
OAUTH_SCOPES = ("devices:core", "auth_keys", "services")

# The in-process proxy serves HTTPS only; a kube-apiserver ProxyGroup also listens on 80.
IN_PROCESS_PORTS = (443,)
PROXY_GROUP_PORTS = (80, 443)
RECORDER_PORT = 80

# Implicit bindings every cluster has; shown in the access matrix, never created.
BUILTIN_GROUP_ROLES = {"system:masters": "cluster-admin"}
ADMIN_CLUSTER_ROLES = frozenset({"cluster-admin"})

ProxyMode = Literal["auth", "noauth"]
NetworkRules = Literal["acls", "grants"]
# "shared": the guide's tags; "per-cluster": `fleet_tags(cluster)`, for clusters sharing a tailnet.
TagScheme = Literal["shared", "per-cluster"]
# "random": the ProxyGroup hostname gets "-" and a stable random suffix (ephemeral/PR stacks).
HostnameSuffix = Literal["", "random"]

RANDOM_SUFFIX_LENGTH = 6
HOSTNAME_MAX = 63
# A ProxyGroup's name (its hostname here) names its StatefulSet; a StatefulSet name over 52
# characters cannot create pods: the controller-revision-hash label (name + "-" + 10-character
# hash) would exceed 63 (kubernetes#64023).
PROXY_GROUP_NAME_MAX = 52
PROXY_GROUP_NAME_REASON = (
    "a ProxyGroup's StatefulSet cannot create pods with a name over 52 characters (its "
    "controller-revision-hash label would exceed 63, kubernetes#64023)")
# Longest ProxyGroup hostname that still fits once "-<suffix>" is appended.
SUFFIXED_HOSTNAME_MAX = PROXY_GROUP_NAME_MAX - 1 - RANDOM_SUFFIX_LENGTH


@dataclass(frozen=True)
class Tags:
    operator: str = "tag:k8s-operator"
    proxy: str = "tag:k8s"
    recorder: str = "tag:tsrecorder"
    proxy_group: str = "tag:k8s-apiserver"
    """The ProxyGroup's own tag: rules to `proxy` reach every proxy the operator creates."""


def fleet_tags(cluster: str) -> Tags:
    """Tags of one cluster in a fleet that shares a tailnet.

    Grants and network rules target tags, so two clusters sharing `tag:k8s` would open each
    other's API servers; these tags carry the cluster name. A cluster name is a DNS label,
    so the tags match `^tag:[a-zA-Z][a-zA-Z0-9-]*$` (at most 78 characters; Tailscale checks
    the characters of a tag, not its length).
    """
    if not DNS_LABEL.match(cluster):
        raise ValueError(f"{cluster!r} is not a cluster name (a DNS label)")
    return Tags(
        operator=f"tag:k8s-operator-{cluster}",
        proxy=f"tag:k8s-{cluster}",
        recorder=f"tag:tsrecorder-{cluster}",
        proxy_group=f"tag:k8s-apiserver-{cluster}",
    )


@dataclass(frozen=True)
class OperatorSettings:
    namespace: str = "tailscale"
    chart_version: str = DEFAULT_CHART_VERSION
    hostname: str = "tailscale-operator"


@dataclass(frozen=True)
class ProxySettings:
    mode: ProxyMode = "auth"
    high_availability: bool = False
    replicas: int = 2
    # Only meaningful for the ProxyGroup; defaults to the cluster name.
    hostname: str = ""
    acknowledge_noauth: bool = False
    hostname_suffix: HostnameSuffix = ""


@dataclass(frozen=True)
class AccessRule:
    src: tuple[str, ...]
    kubernetes_groups: tuple[str, ...]
    record_sessions: bool = False
    posture: tuple[str, ...] = ()


# Everything but str.isalnum() characters, "-" and ".": regex \w is exactly isalnum() or "_".
_NOT_IN_NAME = re.compile(r"[^\w.-]|_")


@dataclass(frozen=True)
class RoleBinding:
    group: str
    cluster_role: str

    @cached_property
    def name(self) -> str:
        """Kubernetes object name, like the guide's `tailnet-readers-view`."""
        cleaned = _NOT_IN_NAME.sub("-", f"{self.group}-{self.cluster_role}".lower())
        return cleaned.strip("-.")[:253]


@dataclass(frozen=True)
class S3Storage:
    endpoint: str
    bucket: str
    # Static keys become a Kubernetes Secret; otherwise IRSA via role_arn or the node's identity.
    static_credentials: bool = False
    role_arn: str = ""


@dataclass(frozen=True)
class SessionRecording:
    enabled: bool = False
    enforce: bool = True
    record_api_requests: bool = False
    replicas: int = 1
    s3: S3Storage | None = None


@dataclass(frozen=True)
class PolicySettings:
    manage: bool = True
    base: str = ""
    # The base policy given as HuJSON text (policy.baseText), instead of a file.
    base_text: str = ""
    adopt_existing: bool = False
    network_rules: NetworkRules = "acls"


OAUTH_SECRET_NAME = "operator-oauth"
# The ServiceAccount the operator chart runs the operator as.
OPERATOR_SERVICE_ACCOUNT = "operator"
# The ClusterRoleBinding that opens the issuer's discovery endpoints to anonymous callers.
DISCOVERY_BINDING_NAME = "oidc-discovery"
DISCOVERY_CLUSTER_ROLE = "system:service-account-issuer-discovery"
DISCOVERY_GROUP = "system:unauthenticated"


@dataclass(frozen=True)
class WorkloadIdentity:
    """The operator authenticates with its ServiceAccount token (no stored secret)."""

    issuer: str
    # Empty: Tailscale generates one (`api.tailscale.com/<client-id>`).
    audience: str = ""
    allow_public_discovery: bool = False


@dataclass(frozen=True)
class OAuthSettings:
    # Empty: the stack creates its own OAuth client (or federated identity).
    client_id: str = ""
    has_client_secret: bool = False
    workload_identity: WorkloadIdentity | None = None

    @property
    def bring_your_own(self) -> bool:
        return bool(self.client_id)

    @property
    def credential_kind(self) -> str:
        """How the operator authenticates, as the plan and the access summary say it."""
        if self.workload_identity is not None:
            return "workload identity: no stored secret"
        return f"OAuth client secret in Secret {OAUTH_SECRET_NAME}"

    def operator_subject(self, namespace: str) -> str:
        """The `sub` claim of the operator's ServiceAccount token."""
        return f"system:serviceaccount:{namespace}:{OPERATOR_SERVICE_ACCOUNT}"


@dataclass(frozen=True)
class ClusterAccessSpec:
    cluster: str
    tags: Tags = field(default_factory=Tags)
    operator: OperatorSettings = field(default_factory=OperatorSettings)
    proxy: ProxySettings = field(default_factory=ProxySettings)
    access: tuple[AccessRule, ...] = ()
    role_bindings: tuple[RoleBinding, ...] = ()
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    postures: dict[str, tuple[str, ...]] = field(default_factory=dict)
    session_recording: SessionRecording = field(default_factory=SessionRecording)
    policy: PolicySettings = field(default_factory=PolicySettings)
    oauth: OAuthSettings = field(default_factory=OAuthSettings)
    allow_broad_admin: bool = False
    tailnet_domain: str = ""
    tag_scheme: TagScheme = "shared"

    @property
    def proxy_group_hostname(self) -> str:
        return self.proxy.hostname or self.cluster

    @property
    def endpoint_tag(self) -> str:
        """The tag of the devices that serve the Kubernetes API on the tailnet."""
        return self.tags.proxy_group if self.proxy.high_availability else self.tags.operator

    @property
    def endpoint_hostname(self) -> str:
        if self.proxy.high_availability:
            return self.proxy_group_hostname
        return self.operator.hostname

    @property
    def endpoint_ports(self) -> tuple[int, ...]:
        return PROXY_GROUP_PORTS if self.proxy.high_availability else IN_PROCESS_PORTS

    @property
    def endpoint_url(self) -> str:
        """`https://<host>.<tailnet>` when the tailnet's DNS name is configured, else ``""``."""
        if not self.tailnet_domain:
            return ""
        return f"https://{self.endpoint_hostname}.{self.tailnet_domain}"

    @property
    def chart_proxy_mode(self) -> str:
        """`apiServerProxyConfig.mode`: the in-process proxy is off when a ProxyGroup serves."""
        if self.proxy.high_availability:
            return "false"
        return "true" if self.proxy.mode == "auth" else "noauth"

    @property
    def allow_impersonation(self) -> bool:
        return self.proxy.high_availability and self.proxy.mode == "auth"

    @property
    def recorded_rules(self) -> tuple[AccessRule, ...]:
        return tuple(rule for rule in self.access if rule.record_sessions)

    @property
    def recorder_deployed(self) -> bool:
        return self.session_recording.enabled

    @cached_property
    def _bound_roles(self) -> dict[str, tuple[str, ...]]:
        # Kubernetes group -> ClusterRoles, built once: a lookup per group stays O(1), so
        # the access matrix is linear in the rules even when each rule has its own binding.
        roles: dict[str, list[str]] = {}
        for binding in self.role_bindings:
            bound = roles.setdefault(binding.group, [])
            if binding.cluster_role not in bound:
                bound.append(binding.cluster_role)
        return {group: tuple(bound) for group, bound in roles.items()}

    def cluster_roles_for(self, kubernetes_group: str) -> tuple[str, ...]:
        """ClusterRoles a Kubernetes group ends up with: built-in bindings plus this stack's."""
        roles: list[str] = []
        builtin = BUILTIN_GROUP_ROLES.get(kubernetes_group)
        if builtin:
            roles.append(builtin)
        for role in self._bound_roles.get(kubernetes_group, ()):
            if role not in roles:
                roles.append(role)
        return tuple(roles)
