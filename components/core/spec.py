"""The validated model of one cluster's tailnet access: plain data, no Pulumi.

Everything the stack creates (policy sections, Helm values, custom resources,
bindings, the access matrix) is derived from one `ClusterAccessSpec`, so the
grant destinations, ports, recorder rules and tests cannot disagree.
"""

import re
from collections.abc import Iterator
from dataclasses import Field, dataclass, field, fields
from functools import cached_property
from typing import Any, Literal

from .identifiers import (
    ANY_DOMAIN,
    CLUSTER_ROLE,
    DNS_LABEL,
    GROUP,
    KUBERNETES_GROUP,
    OAUTH_CLIENT_ID,
    POSTURE,
    STACK_NAME,
    TAG,
    Identifier,
)

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
HostnameSuffix = Literal["none", "random"]

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

DNS_LABEL_RE = DNS_LABEL  # 0.1.0 name


@dataclass(frozen=True)
class Key:
    """How one setting is given and checked: the declaration the reader, the JSON Schema, the
    config reference and the args TypedDicts all follow. Its type is the field's annotation;
    its default the field's default."""

    doc: str
    """What it means (the config reference, the args docstring, the schema description)."""
    fix: str = ""
    """What to do when the value is wrong."""
    name: str = ""
    """The camelCase key when it is not the field's name in camelCase."""
    pattern: Identifier | None = None
    """Strings (or every string of a list) must match it whole."""
    minimum: int | None = None
    maximum: int | None = None
    required: bool = False
    """Must be given (a list: non-empty)."""
    why: str = ""
    """Why it is required, where a reader would not guess."""
    empty_ok: bool = False
    """A required list that may be given empty (a rule of its object decides)."""
    secret: bool = False
    """A credential: the value is kept apart from the spec (which records only whether it is
    set) and stays a Pulumi secret."""
    passthrough: bool = False
    """Any Pulumi input (an Output too): kept apart like a secret, but not one."""
    rule: str = ""
    """A further check of the value, by name (core.config.rules)."""
    item_rule: str = ""
    """A further check of every string of a list or map, by name."""
    key_pattern: Identifier | None = None
    """A map's keys must match it whole."""
    default: object = None
    """The value when a stack file leaves the key out, where it is not the field's default."""
    default_doc: str = ""
    """The default as the reference shows it, where it is computed."""


def key(doc: str, **details: Any) -> dict[str, Key]:
    """Field metadata declaring a setting."""
    return {"key": Key(doc, **details)}


def declared(cls: type) -> Iterator[tuple[Field[Any], Key]]:
    """The declared fields of a spec class, in order."""
    for item in fields(cls):
        declaration = item.metadata.get("key")
        if isinstance(declaration, Key):
            yield item, declaration


def camel(name: str) -> str:
    """`kubernetes_groups` -> `kubernetesGroups`."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def config_name(item: Field[Any], declaration: Key) -> str:
    return declaration.name or camel(item.name)


def arg_name(item: Field[Any], declaration: Key) -> str:
    """The key in component args: the config key in snake_case."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in config_name(item, declaration))


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
    posture: tuple[str, ...] = field(default=(), metadata=key(
        "device postures their devices must meet (e.g. `posture:latest`)", pattern=POSTURE,
        fix='postures are named like "posture:latest".'))


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
        "`enableEvents`: record every API request (operator ≥ 1.96)"))
    replicas: int = field(default=1, metadata=key(
        "recorder replicas; more than one needs S3", minimum=1, maximum=1000))
    s3: S3Storage | None = field(default=None, metadata=key("S3 storage for recordings"))


@dataclass(frozen=True)
class PolicySettings:
    manage: bool = field(default=True, metadata=key(
        "write the tailnet policy file; false: export only the fragment (`policyFragment`)"))
    base: str = field(default="", metadata=key(
        "HuJSON file with the rest of the tailnet policy, relative to the project root; a file "
        "holding `{}` replaces the whole policy on purpose",
        default_doc="required when `policy.manage` is true"))
    base_text: str = field(default="", metadata=key(
        "the base policy as HuJSON text instead of a file (not together with `policy.base`)"))
    adopt_existing: bool = field(default=False, metadata=key(
        "overwrite a policy Pulumi did not write yet (export it into `policy.base` first)"))
    network_rules: NetworkRules = field(default="acls", metadata=key(
        "open the proxy's ports with `acls` like the guide, or with `grants` + `ip`",
        fix='use "acls" (like the guide) or "grants".'))


OAUTH_SECRET_NAME = "operator-oauth"
# The ServiceAccount the operator chart runs the operator as.
OPERATOR_SERVICE_ACCOUNT = "operator"
# The ClusterRoleBinding that opens the issuer's discovery endpoints to anonymous callers.
DISCOVERY_BINDING_NAME = "oidc-discovery"
DISCOVERY_CLUSTER_ROLE = "system:service-account-issuer-discovery"
DISCOVERY_GROUP = "system:unauthenticated"

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
        "ClusterRole `system:service-account-issuer-discovery` (self-hosted issuers only)"))


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


# --- the sub-components' args: each public component reads its args into one of these -----


@dataclass(frozen=True)
class OperatorInstall:
    """TailscaleOperator's args."""

    namespace: str = field(metadata=key(
        "Namespace for the operator (the guide's `tailscale`).", required=True,
        pattern=DNS_LABEL, fix=DNS_LABEL_FIX))
    chart_version: str = field(metadata=key(
        "Exact `tailscale-operator` chart version, e.g. `1.102.3`.", required=True,
        rule="chart_version"))
    hostname: str = field(metadata=key(
        "Tailnet hostname of the operator device (and of the in-process API server proxy).",
        required=True, pattern=DNS_LABEL, fix=DNS_LABEL_FIX))
    operator_tag: str = field(metadata=key(
        "Tag the operator's device gets; the OAuth client may apply it.", required=True,
        pattern=TAG, fix=TAG_FIX))
    proxy_tag: str = field(metadata=key(
        "Default tag of the proxies the operator creates.", required=True, pattern=TAG,
        fix=TAG_FIX))
    api_server_proxy_mode: Literal["true", "noauth", "false"] = field(metadata=key(
        '`apiServerProxyConfig.mode`: "true" (auth), "noauth", or "false" when a ProxyGroup '
        "serves.", required=True))
    allow_impersonation: bool = field(metadata=key(
        "`apiServerProxyConfig.allowImpersonation`, needed by an auth-mode ProxyGroup.",
        required=True))
    has_oauth_client_id: bool = field(default=False, metadata=key(
        "Bring your own OAuth client; without it the component creates one.",
        name="oauthClientId", passthrough=True))
    has_oauth_client_secret: bool = field(default=False, metadata=key(
        "Secret of the client given in `oauth_client_id`; stays a Pulumi secret.",
        name="oauthClientSecret", secret=True))
    workload_identity_issuer: str = field(default="", metadata=key(
        "Workload identity: the cluster's OIDC issuer (https URL). The component creates a "
        "federated identity for the operator's ServiceAccount instead of an OAuth client; no "
        "secret is stored.", rule="https_url", fix=ISSUER_FIX))
    workload_identity_audience: str = field(default="", metadata=key(
        "Audience of the federated identity (default: the one Tailscale generates)."))


@dataclass(frozen=True)
class ProxyEndpoint:
    """ApiServerProxy's args."""

    high_availability: bool = field(metadata=key(
        "Run a `kube-apiserver` ProxyGroup instead of the operator's in-process proxy.",
        required=True))
    hostname: str = field(metadata=key(
        "Tailnet hostname clients use: the operator's for in-process, the ProxyGroup's for HA.",
        required=True, pattern=DNS_LABEL, fix=DNS_LABEL_FIX))
    mode: ProxyMode = field(default="auth", metadata=key(
        "`auth` (impersonate the caller; default) or `noauth`.",
        fix='use "auth" (impersonates the caller) or "noauth".'))
    replicas: int = field(default=2, metadata=key(
        "ProxyGroup replicas (HA only; default 2).", minimum=1, maximum=1000))
    tags: tuple[str, ...] = field(default=(), metadata=key(
        "Tags of the ProxyGroup devices (HA only); the operator must own them.", pattern=TAG,
        fix=TAG_FIX))
    tailnet_domain: str = field(default="", metadata=key(
        "The tailnet's DNS name (e.g. `tailxyz.ts.net`), to know the URL before the proxy runs.",
        pattern=ANY_DOMAIN, fix='the tailnet DNS name, e.g. "tailxyz.ts.net".'))
    hostname_suffix: HostnameSuffix = field(default="none", metadata=key(
        "`random` (HA only): append `-` and 6 random lower-case letters/digits to the "
        "ProxyGroup hostname, stable for the life of the stack; for ephemeral/PR stacks. "
        "Default: none.",
        fix=f'use "random" (a stable suffix of {RANDOM_SUFFIX_LENGTH} random letters and '
        'digits, for ephemeral or PR stacks) or "none".'))
    operator_namespace: str = field(default="", metadata=key(
        "Namespace of the operator whose release installs the CRDs (HA only): a change "
        "replaces the ProxyGroup together with the release.", pattern=DNS_LABEL,
        fix=DNS_LABEL_FIX))


@dataclass(frozen=True)
class RecorderSettings:
    """SessionRecorder's args."""

    namespace: str = field(metadata=key(
        "The operator's namespace; the credentials Secret must live there.", required=True,
        pattern=DNS_LABEL, fix=DNS_LABEL_FIX))
    tags: tuple[str, ...] = field(metadata=key(
        "Tags of the recorder device; the operator must own them.", required=True,
        pattern=TAG, fix=TAG_FIX))
    replicas: int = field(default=1, metadata=key(
        "Recorder replicas (default 1); more than one needs S3 storage.", minimum=1,
        maximum=1000))
    s3: S3Storage | None = field(default=None, metadata=key(
        "Persist recordings in S3. Without it recordings are ephemeral and the UI is enabled."))
    recorder_name: str = field(default="recorder", metadata=key(
        "Name of the Recorder object (default `recorder`).", pattern=DNS_LABEL,
        fix=DNS_LABEL_FIX))


@dataclass(frozen=True)
class RoleBindingSet:
    """ClusterRoleBindings' args."""

    bindings: tuple[RoleBinding, ...] = field(metadata=key(
        "One ClusterRoleBinding per (group, ClusterRole) pair.", required=True,
        rule="distinct_bindings"))


# Why a written policy needs a base: one wording for stack config and every component.
BASE_WHY = ("tailscale.Acl replaces the whole tailnet policy file, so without a base every rule "
            "other teams wrote (on a new tailnet, the default allow-all rule) would be dropped")
BASE_TEXT_FIX = ("pass the live policy's HuJSON text (`tailscale.get_acl().hujson`, or the "
                 'admin console\'s policy file); to replace the whole policy on purpose, pass '
                 '"{}".')


@dataclass(frozen=True)
class PolicyWrite:
    """TailnetPolicy's args."""

    has_fragments: bool = field(metadata=key(
        "Policy fragments (HuJSON text) to add to the base policy, e.g. one per cluster.",
        name="fragments", required=True, passthrough=True))
    base: str = field(metadata=key(
        "HuJSON text of the rest of the tailnet policy (other teams' rules); kept unchanged. "
        'Required: `"{}"` replaces the whole policy on purpose.', required=True,
        why=BASE_WHY, rule="base_text", fix=BASE_TEXT_FIX))
    adopt_existing: bool = field(default=False, metadata=key(
        "Overwrite a tailnet policy that Pulumi did not create yet. Export it into `base` "
        "first."))
    fragment_names: tuple[str, ...] = field(default=(), metadata=key(
        "A name per fragment (e.g. the cluster or stack), for conflict messages; default "
        "`fragment <i>`."))


STACK_NAME_FIX = "use `<org>/<project>/<stack>` as `pulumi stack ls --all` shows it."
PENDING_FIX = "use the new cluster stack's `cluster` value (a DNS label), e.g. gpu-north."


@dataclass(frozen=True)
class FleetPolicyArgs:
    """TailnetFleetPolicy's args."""

    cluster_stacks: tuple[str, ...] = field(metadata=key(
        "The cluster stacks, as `<org>/<project>/<stack>`; each runs with `policy.manage: "
        "false`.", required=True, empty_ok=True, pattern=STACK_NAME, fix=STACK_NAME_FIX))
    base: str = field(metadata=key(
        "HuJSON text of the rest of the tailnet policy (groups, other teams' rules); kept "
        'unchanged. Required: `"{}"` replaces the whole policy on purpose.', required=True,
        why=BASE_WHY, rule="base_text", fix=BASE_TEXT_FIX))
    pending_clusters: tuple[str, ...] = field(default=(), metadata=key(
        "Names of clusters whose stacks are not deployed yet: their per-cluster tags are added "
        "to tagOwners (no grants) so that their first `pulumi up` can create the OAuth client.",
        pattern=DNS_LABEL, fix=PENDING_FIX))
    adopt_existing: bool = field(default=False, metadata=key(
        "Overwrite a tailnet policy that Pulumi did not create yet. Export it into `base` "
        "first."))


@dataclass(frozen=True)
class FleetPolicySettings:
    base: str = field(default="", metadata=key(
        "HuJSON file with the rest of the tailnet policy, relative to `tailnet/`",
        default_doc="required"))
    adopt_existing: bool = field(default=False, metadata=key(
        "overwrite a policy Pulumi did not write yet (needs `policy.base`)"))


@dataclass(frozen=True)
class FleetStackConfig:
    """The tailnet (fleet) stack's config, namespace `tailscale-cluster-access-tailnet`."""

    clusters: tuple[str, ...] = field(default=(), metadata=key(
        "the cluster stacks, `<org>/<project>/<stack>`; each runs with `policy.manage: false`",
        pattern=STACK_NAME, fix=STACK_NAME_FIX, default_doc="required (unless `pendingClusters`)"))
    pending_clusters: tuple[str, ...] = field(default=(), metadata=key(
        "clusters whose stacks are not deployed yet: only their per-cluster tags are added",
        pattern=DNS_LABEL, fix=PENDING_FIX))
    policy: FleetPolicySettings = field(default_factory=FleetPolicySettings, metadata=key(
        "the base policy and adoption"))
