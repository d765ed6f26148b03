"""The public sub-components' args as spec classes (each component reads its args into one,
once), and the tailnet (fleet) stack's config."""

from dataclasses import dataclass, field
from typing import Literal

from .chart import RANDOM_SUFFIX_LENGTH
from .declare import Key, key
from .identifiers import ANY_DOMAIN, DNS_LABEL, STACK_NAME, TAG
from .spec import (
    DNS_LABEL_FIX,
    ISSUER_FIX,
    TAG_FIX,
    HostnameSuffix,
    ProxyMode,
    RoleBinding,
    S3Storage,
)


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


def base_text_key(what: str) -> dict[str, Key]:
    """The base policy as text, in the args of the components that write the policy."""
    return key(f"HuJSON text of the rest of the tailnet policy ({what}); kept unchanged. "
               'Required: `"{}"` replaces the whole policy on purpose.', required=True,
               why=BASE_WHY, rule="base_text", fix=BASE_TEXT_FIX)


ADOPT_EXISTING_ARG = key(
    "Overwrite a tailnet policy that Pulumi did not create yet. Export it into `base` first.")


@dataclass(frozen=True)
class PolicyWrite:
    """TailnetPolicy's args."""

    has_fragments: bool = field(metadata=key(
        "Policy fragments (HuJSON text) to add to the base policy, e.g. one per cluster.",
        name="fragments", required=True, passthrough=True))
    base: str = field(metadata=base_text_key("other teams' rules"))
    adopt_existing: bool = field(default=False, metadata=ADOPT_EXISTING_ARG)
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
    base: str = field(metadata=base_text_key("groups, other teams' rules"))
    pending_clusters: tuple[str, ...] = field(default=(), metadata=key(
        "Names of clusters whose stacks are not deployed yet: their per-cluster tags are added "
        "to tagOwners (no grants) so that their first `pulumi up` can create the OAuth client.",
        pattern=DNS_LABEL, fix=PENDING_FIX))
    adopt_existing: bool = field(default=False, metadata=ADOPT_EXISTING_ARG)


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
