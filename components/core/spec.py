"""The validated model of one cluster's tailnet access: plain data, no Pulumi.

Everything the stack creates (policy sections, Helm values, custom resources,
bindings, the access matrix) is derived from one `ClusterAccessSpec`, so the
grant destinations, ports, recorder rules and tests cannot disagree.
"""

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from .chart import (
    DEFAULT_CHART_VERSION,
    OAUTH_SECRET_NAME,
    OPERATOR_SERVICE_ACCOUNT,
    RANDOM_SUFFIX_LENGTH,
)
from .declare import Key, key
from .identifiers import (
    ANY_DOMAIN,
    CLUSTER_ROLE,
    DNS_LABEL,
    GROUP,
    KUBERNETES_GROUP,
    OAUTH_CLIENT_ID,
    POSTURE,
    TAG,
)

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
HostnameSuffix = Literal["none", "random"]


TAG_FIX = 'tags look like "tag:k8s-operator": "tag:", a letter, then letters, digits or dashes.'
DNS_LABEL_FIX = ("use a DNS label: lower-case letters, digits and dashes, at most 63 characters, "
                 "starting and ending with a letter or digit.")


def _tag(doc: str, default_doc: str = "") -> dict[str, Key]:
    return key(doc, pattern=TAG, fix=TAG_FIX, default_doc=default_doc)


@dataclass(frozen=True)
class Tags:
    operator: str = field(default="tag:k8s-operator", metadata=_tag(
        "the operator's device; owns the other tags",
        "`tag:k8s-operator` (`tag:k8s-operator-<cluster>` with tagScheme per-cluster)"))
    proxy: str = field(default="tag:k8s", metadata=_tag(
        "proxies the operator creates (ingress, egress, connectors), other than the ProxyGroup",
        "`tag:k8s` (`tag:k8s-<cluster>` with tagScheme per-cluster)"))
    recorder: str = field(default="tag:tsrecorder", metadata=_tag(
        "the session recorder",
        "`tag:tsrecorder` (`tag:tsrecorder-<cluster>` with tagScheme per-cluster)"))
    proxy_group: str = field(default="tag:k8s-apiserver", metadata=_tag(
        "the `kube-apiserver` ProxyGroup's devices (HA only), owned by the operator; the API "
        "server's grants, network rules, tests and autoApprovers target it. Equal to "
        "`tags.proxy` is allowed with a warning (rules to it then reach every proxy)",
        "`tag:k8s-apiserver` (`tag:k8s-apiserver-<cluster>` with tagScheme per-cluster)"))
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


CHART_VERSION_DOC = ("exact `tailscale-operator` chart version, at least 1.88.0 (1.92.3 refused; "
                     "1.98.0-1.98.3 refused with workload identity)")


@dataclass(frozen=True)
class OperatorSettings:
    namespace: str = field(default="tailscale", metadata=key(
        "namespace of the operator, its OAuth Secret and the S3 credentials",
        pattern=DNS_LABEL, fix=DNS_LABEL_FIX))
    chart_version: str = field(default=DEFAULT_CHART_VERSION, metadata=key(
        CHART_VERSION_DOC, rule="chart_version"))
    hostname: str = field(default="tailscale-operator", metadata=key(
        "tailnet name of the operator and its in-process proxy",
        pattern=DNS_LABEL, fix=DNS_LABEL_FIX))


@dataclass(frozen=True)
class ProxySettings:
    mode: ProxyMode = field(default="auth", metadata=key(
        "`noauth` passes requests without impersonation; needs `proxy.acknowledgeNoauth: true`",
        fix='use "auth" (impersonates the caller) or "noauth".'))
    high_availability: bool = field(default=False, metadata=key(
        "serve the API through a `kube-apiserver` ProxyGroup (in-process proxy off)"))
    replicas: int = field(default=2, metadata=key(
        "ProxyGroup replicas (HA only)", minimum=1, maximum=1000))
    hostname: str = field(default="", metadata=key(
        "ProxyGroup hostname, unique in the tailnet (HA only)", pattern=DNS_LABEL,
        fix=DNS_LABEL_FIX, default_doc="`cluster`"))
    """Only meaningful for the ProxyGroup; defaults to the cluster name."""
    acknowledge_noauth: bool = field(default=False, metadata=key(
        "confirm that another authenticating proxy stands behind a noauth proxy"))
    hostname_suffix: HostnameSuffix = field(default="none", metadata=key(
        "`random`: append `-` and 6 random lower-case letters/digits (stable per stack, "
        "`pulumi-random`) to the ProxyGroup hostname, for ephemeral/PR stacks (HA only; the "
        "hostname before the suffix may have at most 45 characters)",
        fix=f'use "random" (a stable suffix of {RANDOM_SUFFIX_LENGTH} random letters and '
        'digits, for ephemeral or PR stacks) or "none".'))


KUBERNETES_GROUP_FIX = 'use letters, digits and ":._@/-", e.g. "tailnet-readers".'


@dataclass(frozen=True)
class AccessRule:
    src: tuple[str, ...] = field(metadata=key(
        "tailnet identities: `group:...`, `tag:...`, login emails, autogroups, "
        "`user:*@<domain>` or `*`", required=True, item_rule="identity"))
    kubernetes_groups: tuple[str, ...] = field(metadata=key(
        "Kubernetes groups the proxy impersonates for them (e.g. `system:masters`)",
        required=True, pattern=KUBERNETES_GROUP, fix=KUBERNETES_GROUP_FIX))
    record_sessions: bool = field(default=False, metadata=key(
        "record their sessions with the session recorder"))
    record_api_requests: bool = field(default=False, metadata=key(
        "`enableEvents` on this rule's grant: record every API request of its sources, not "
        "only exec/attach sessions (needs recordSessions; operator ≥ 1.94.1); "
        "`sessionRecording.recordApiRequests` turns it on for every recorded rule"))
    posture: tuple[str, ...] = field(default=(), metadata=key(
        "device postures their devices must meet (e.g. `posture:latest`)", pattern=POSTURE,
        fix='postures are named like "posture:latest".'))


@dataclass(frozen=True)
class BreakGlass:
    """A way in while the recorder is down: a grant that matches no enforcing grant."""

    src: tuple[str, ...] = field(metadata=key(
        "tailnet identities that may reach the cluster when the recorder is down (a small "
        "on-call group or a tag); no grant that enforces recording may match them (checked "
        "on the merged policy)", required=True, item_rule="identity"))
    kubernetes_groups: tuple[str, ...] = field(metadata=key(
        "Kubernetes groups the proxy impersonates for them (e.g. `system:masters` to repair "
        "the recorder)", required=True, pattern=KUBERNETES_GROUP, fix=KUBERNETES_GROUP_FIX))
    posture: tuple[str, ...] = field(default=(), metadata=key(
        "device postures their devices must meet (e.g. `posture:latest`); without one any "
        "device of theirs gets in unrecorded", pattern=POSTURE,
        fix='postures are named like "posture:latest".'))

    @property
    def rule(self) -> AccessRule:
        """The access rule it is: its grant and network rule are built like every rule's."""
        return AccessRule(src=self.src, kubernetes_groups=self.kubernetes_groups,
                          posture=self.posture)


# Everything but str.isalnum() characters, "-" and ".": regex \w is exactly isalnum() or "_".
_NOT_IN_NAME = re.compile(r"[^\w.-]|_")


@dataclass(frozen=True)
class RoleBinding:
    group: str = field(metadata=key(
        "Kubernetes group, as impersonated by an access rule (e.g. `tailnet-readers`)",
        required=True, pattern=KUBERNETES_GROUP, fix=KUBERNETES_GROUP_FIX))
    cluster_role: str = field(metadata=key(
        "ClusterRole to bind it to (e.g. `view`)", required=True, pattern=CLUSTER_ROLE,
        fix='ClusterRole names look like "view" or "system:aggregate-to-edit".'))

    @cached_property
    def name(self) -> str:
        """Kubernetes object name, like the guide's `tailnet-readers-view`."""
        cleaned = _NOT_IN_NAME.sub("-", f"{self.group}-{self.cluster_role}".lower())
        return cleaned.strip("-.")[:253]


S3_SECRET_FIX = ("set it with `pulumi config set --secret --path "
                 "sessionRecording.s3.secretAccessKey` (or accessKeyId).")


@dataclass(frozen=True)
class S3Storage:
    endpoint: str = field(metadata=key(
        "S3-compatible endpoint, e.g. `s3.us-east-1.amazonaws.com`", required=True,
        fix='e.g. "s3.us-east-1.amazonaws.com".'))
    bucket: str = field(metadata=key(
        "bucket used only for recordings", required=True,
        fix="name a bucket used only for recordings."))
    has_access_key_id: bool = field(default=False, metadata=key(
        "static access key ID, stored in a Kubernetes Secret (kept secret); omit to use "
        "`roleArn` or the node's identity", name="accessKeyId", secret=True, fix=S3_SECRET_FIX))
    has_secret_access_key: bool = field(default=False, metadata=key(
        "static secret access key, stored in a Kubernetes Secret; set with `pulumi config set "
        "--secret --path`", name="secretAccessKey", secret=True, fix=S3_SECRET_FIX))
    role_arn: str = field(default="", metadata=key(
        "IRSA role for the recorder's ServiceAccount instead of static keys"))

    @property
    def static_credentials(self) -> bool:
        """Static keys become a Kubernetes Secret; otherwise IRSA via role_arn or the node's
        identity."""
        return self.has_access_key_id and self.has_secret_access_key


@dataclass(frozen=True)
class SessionRecording:
    enabled: bool = field(default=False, metadata=key("deploy a `Recorder`"))
    enforce: bool = field(default=True, metadata=key(
        "fail closed: refuse recorded sessions when no recorder is reachable"))
    record_api_requests: bool = field(default=False, metadata=key(
        "`enableEvents` on every rule that records sessions: record every API request "
        "(operator ≥ 1.94.1); `access[].recordApiRequests` for one rule"))
    replicas: int = field(default=1, metadata=key(
        "recorder replicas; more than one needs S3", minimum=1, maximum=1000))
    s3: S3Storage | None = field(default=None, metadata=key("S3 storage for recordings"))


@dataclass(frozen=True)
class PolicySettings:
    manage: bool = field(default=True, metadata=key(
        "write the tailnet policy file; false: export only the fragment (`policyFragment`)"))
    base: str = field(default="", metadata=key(
        "HuJSON file with the rest of the tailnet policy, relative to the project root; a file "
        "holding `{}` replaces the whole policy on purpose; not from a Pulumi package "
        "(`pulumi package add`), which cannot see your project's folder: give `baseText` there",
        default_doc="required when `policy.manage` is true"))
    base_text: str = field(default="", metadata=key(
        "the base policy as HuJSON text instead of a file (not together with `policy.base`)"))
    adopt_existing: bool = field(default=False, metadata=key(
        "overwrite a policy Pulumi did not write yet (export it into `policy.base` first)"))
    network_rules: NetworkRules = field(default="acls", metadata=key(
        "open the proxy's ports with `acls` like the guide, or with `grants` + `ip`",
        fix='use "acls" (like the guide) or "grants".'))


ISSUER_FIX = ("the cluster's OIDC issuer, an https URL such as "
              '"https://oidc.eks.us-east-1.amazonaws.com/id/<id>" (EKS: aws eks describe-cluster '
              "--query cluster.identity.oidc.issuer; others: kubectl get --raw "
              "/.well-known/openid-configuration).")


@dataclass(frozen=True)
class WorkloadIdentity:
    """The operator authenticates with its ServiceAccount token (no stored secret)."""

    issuer: str = field(metadata=key(
        "workload identity: the cluster's OIDC issuer (an https URL); the stack creates a "
        "`tailscale.FederatedIdentity` instead of an OAuth client and stores no secret (not "
        "with `oauth.clientId`/`clientSecret`)", required=True, rule="https_url",
        fix=ISSUER_FIX))
    audience: str = field(default="", metadata=key(
        "audience of the federated identity; default: the one Tailscale generates "
        "(`api.tailscale.com/<client-id>`)", default_doc="generated"))
    allow_public_discovery: bool = field(default=False, metadata=key(
        "create ClusterRoleBinding `oidc-discovery`: group `system:unauthenticated` → "
        "ClusterRole `system:service-account-issuer-discovery` (self-hosted issuers only: "
        "ignored, with a warning, for EKS, GKE and AKS issuers, which the cloud serves)"))


@dataclass(frozen=True)
class OAuthSettings:
    client_id: str = field(default="", metadata=key(
        "an existing OAuth client's ID (bring your own client); without it the stack creates "
        "one", pattern=OAUTH_CLIENT_ID,
        fix='give the client ID as the admin console shows it: ASCII letters and digits, '
        'e.g. "kXXXXXXXXX11CNTRL".'))
    has_client_secret: bool = field(default=False, metadata=key(
        "its secret; set with `pulumi config set --secret --path oauth.clientSecret`",
        name="clientSecret", secret=True,
        fix="quote the secret, or set it with `pulumi config set --secret --path "
        "oauth.clientSecret`."))
    workload_identity: WorkloadIdentity | None = field(default=None, metadata=key(
        "authenticate the operator with its ServiceAccount token through a federated identity "
        "instead of an OAuth client secret"))

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


DEFAULT_DEPLOYER_TAG = "tag:ci"
DEFAULT_DEPLOYER_GROUP = "tailnet-deployers"
DEFAULT_DEPLOYER_ROLE = "cluster-admin"


@dataclass(frozen=True)
class Deployer:
    """The machine that runs `pulumi up` once the public endpoint is closed: it reaches the
    API server through the proxy as a tagged device."""

    tag: str = field(default=DEFAULT_DEPLOYER_TAG, metadata=_tag(
        "tag of the deploying machine (CI joining the tailnet with workload identity); gets "
        "a kubernetes grant and a network rule to the API server endpoint, never recorded"))
    kubernetes_groups: tuple[str, ...] = field(
        default=(DEFAULT_DEPLOYER_GROUP,), metadata=key(
            "Kubernetes groups the proxy impersonates for the deployer",
            pattern=KUBERNETES_GROUP, fix=KUBERNETES_GROUP_FIX,
            default_doc="`[tailnet-deployers]`"))
    cluster_role: str = field(default=DEFAULT_DEPLOYER_ROLE, metadata=key(
        "ClusterRole bound to those groups (ClusterRoleBinding `<group>-<clusterRole>`)",
        pattern=CLUSTER_ROLE,
        fix='ClusterRole names look like "cluster-admin" or "edit".'))

    @property
    def rule(self) -> AccessRule:
        """The deployer as an access rule: what the policy builder gives every rule."""
        return AccessRule(src=(self.tag,), kubernetes_groups=self.kubernetes_groups)

    @property
    def bindings(self) -> tuple[RoleBinding, ...]:
        # system:masters is bound to cluster-admin by Kubernetes already.
        return tuple(RoleBinding(group=group, cluster_role=self.cluster_role)
                     for group in self.kubernetes_groups if group not in BUILTIN_GROUP_ROLES)


# The guide's access rules and binding: a stack file that leaves them out gets these.
DEFAULT_ACCESS = [
    {"src": ["group:ml-engineers"], "kubernetesGroups": ["system:masters"]},
    {"src": ["group:ml-readers"], "kubernetesGroups": ["tailnet-readers"]},
]
DEFAULT_ROLE_BINDINGS = [{"group": "tailnet-readers", "clusterRole": "view"}]


@dataclass(frozen=True)
class ClusterAccessSpec:
    cluster: str = field(metadata=key(
        "cluster name; the default ProxyGroup hostname", required=True, pattern=DNS_LABEL,
        fix="name the cluster with a DNS label: lower-case letters, digits and dashes, at most "
        "63 characters (pulumi config set cluster <name>, e.g. gpu-training)."))
    tags: Tags = field(default_factory=Tags, metadata=key(
        "tags of the operator, proxies and recorder"))
    operator: OperatorSettings = field(default_factory=OperatorSettings, metadata=key(
        "operator installation"))
    proxy: ProxySettings = field(default_factory=ProxySettings, metadata=key(
        "API server proxy"))
    access: tuple[AccessRule, ...] = field(default=(), metadata=key(
        "who gets which Kubernetes groups", default=DEFAULT_ACCESS, rule="distinct_rules",
        default_doc="the guide's two rules (component args: required)"))
    break_glass: BreakGlass | None = field(default=None, metadata=key(
        "a way in that never fails closed: a grant (and network rule) without recording for "
        "`src`, refused when a grant that enforces recording also matches them"))
    role_bindings: tuple[RoleBinding, ...] = field(default=(), metadata=key(
        "one ClusterRoleBinding per `{group, clusterRole}`, named `<group>-<clusterRole>`",
        default=DEFAULT_ROLE_BINDINGS, rule="distinct_bindings",
        default_doc="`[{group: tailnet-readers, clusterRole: view}]`"))
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict, metadata=key(
        "tailnet groups this stack defines: `group:name: [emails]`", key_pattern=GROUP,
        item_rule="member", fix='groups are named like "group:ml-readers".'))
    postures: dict[str, tuple[str, ...]] = field(default_factory=dict, metadata=key(
        "device postures: `posture:name: [conditions]`", key_pattern=POSTURE,
        fix='postures are named like "posture:latest".'))
    session_recording: SessionRecording = field(default_factory=SessionRecording, metadata=key(
        "session recording"))
    policy: PolicySettings = field(default_factory=PolicySettings, metadata=key(
        "how the tailnet policy file is written"))
    oauth: OAuthSettings = field(default_factory=OAuthSettings, metadata=key(
        "bring your own OAuth client, or use workload identity"))
    allow_broad_admin: bool = field(default=False, metadata=key(
        "allow cluster-admin for `*`, `autogroup:member`, `autogroup:tagged` or "
        "`user:*@domain`"))
    tailnet_domain: str = field(default="", metadata=key(
        "the tailnet's DNS name (`tailxyz.ts.net`), to know the proxy URL before it runs",
        pattern=ANY_DOMAIN, fix='the tailnet DNS name, e.g. "tailxyz.ts.net".'))
    deployer: Deployer | None = field(default=None, metadata=key(
        "deploy through the tailnet: `{tag, kubernetesGroups, clusterRole}` (defaults "
        "`tag:ci`, `tailnet-deployers`, `cluster-admin`); adds tagOwners, a grant, a network "
        "rule, a ClusterRoleBinding, a `deployer` row and the `deployKubeconfig` output"))
    tag_scheme: TagScheme = field(default="shared", metadata=key(
        "`per-cluster`: default tags become `tag:k8s-operator-<cluster>`, `tag:k8s-<cluster>`, "
        "`tag:tsrecorder-<cluster>`, `tag:k8s-apiserver-<cluster>`, for several clusters in "
        "one tailnet; explicit `tags.*` still win",
        fix='use "shared" (the guide\'s tags, one cluster per tailnet) or "per-cluster" '
        "(tag:k8s-operator-<cluster>, tag:k8s-<cluster>, tag:tsrecorder-<cluster>, for several "
        "clusters in one tailnet)."))

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
    def chart_proxy_mode(self) -> Literal["true", "noauth", "false"]:
        """`apiServerProxyConfig.mode`: the in-process proxy is off when a ProxyGroup serves."""
        if self.proxy.high_availability:
            return "false"
        return "true" if self.proxy.mode == "auth" else "noauth"

    @property
    def allow_impersonation(self) -> bool:
        return self.proxy.high_availability and self.proxy.mode == "auth"

    @property
    def grant_rules(self) -> tuple[AccessRule, ...]:
        """The rules that become grants and network rules: `access`, then the deployer's, then
        `breakGlass`: every source the policy grants the endpoint."""
        extra = tuple(part.rule for part in (self.deployer, self.break_glass) if part is not None)
        return (*self.access, *extra) if extra else self.access

    @property
    def all_role_bindings(self) -> tuple[RoleBinding, ...]:
        """The stack's bindings, then the deployer's (those not already given)."""
        if self.deployer is None:
            return self.role_bindings
        extra = tuple(binding for binding in self.deployer.bindings
                      if binding.name not in {given.name for given in self.role_bindings})
        return (*self.role_bindings, *extra)

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
        for binding in self.all_role_bindings:
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
