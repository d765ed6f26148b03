"""SecureClusterAccess: the whole guide for one cluster, as one dependency graph.

policy (the tags must exist) -> OAuth client (or federated identity) -> namespace, Secret
(not with workload identity), Helm release -> ProxyGroup / Recorder; ClusterRoleBindings beside
them.
"""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import NotRequired, TypedDict

import pulumi
from pulumi_kubernetes.rbac import v1 as rbac

from ..core.cluster_plan import ClusterPlan, plan_cluster
from ..core.config import SecretInputs, describe
from ..core.problems import InvalidConfig, Problem
from ..core.spec import (
    DISCOVERY_BINDING_NAME,
    DISCOVERY_CLUSTER_ROLE,
    DISCOVERY_GROUP,
    OperatorInstall,
    ProxyEndpoint,
    RecorderSettings,
    RoleBindingSet,
)
from .api_server_proxy import ApiServerProxy
from .errors import invalid_args
from .kube import child_options
from .operator import TailscaleOperator
from .role_bindings import RBAC_API_GROUP, ClusterRoleBindings, RoleBindingArgs
from .session_recorder import S3StorageArgs, SessionRecorder
from .tailnet_policy import TailnetPolicy


class TagsArgs(TypedDict):
    operator: NotRequired[str]
    """Tag of the operator device (default `tag:k8s-operator`)."""
    proxy: NotRequired[str]
    """Tag of the proxies it creates, other than the ProxyGroup (default `tag:k8s`)."""
    recorder: NotRequired[str]
    """Tag of the session recorder (default `tag:tsrecorder`)."""
    proxy_group: NotRequired[str]
    """Tag of the `kube-apiserver` ProxyGroup's devices, owned by the operator tag (default
    `tag:k8s-apiserver`, `tag:k8s-apiserver-<cluster>` per cluster); grants, network rules,
    tests and autoApprovers of the API server target it when `high_availability` is set."""


class OperatorArgs(TypedDict):
    namespace: NotRequired[str]
    """Namespace of the operator (default `tailscale`)."""
    chart_version: NotRequired[str]
    """Exact `tailscale-operator` chart version (default `1.102.3`, at least 1.88.0)."""
    hostname: NotRequired[str]
    """Tailnet hostname of the operator and its in-process proxy (default `tailscale-operator`)."""


class ProxyArgs(TypedDict):
    mode: NotRequired[str]
    """`auth` (default: impersonate the caller) or `noauth` (needs `acknowledge_noauth`)."""
    high_availability: NotRequired[bool]
    """Serve the API through a `kube-apiserver` ProxyGroup instead of the operator."""
    replicas: NotRequired[int]
    """ProxyGroup replicas (default 2)."""
    hostname: NotRequired[str]
    """ProxyGroup hostname (default: the cluster name); unique in the tailnet."""
    acknowledge_noauth: NotRequired[bool]
    """Confirm that another authenticating proxy stands behind a `noauth` proxy."""
    hostname_suffix: NotRequired[str]
    """`random`: append a stable random suffix to the ProxyGroup hostname (ephemeral/PR
    stacks)."""


class AccessRuleArgs(TypedDict):
    src: list[str]
    """Tailnet identities: `group:...`, `tag:...`, user emails, autogroups."""
    kubernetes_groups: list[str]
    """Kubernetes groups the proxy impersonates for them (e.g. `system:masters`)."""
    record_sessions: NotRequired[bool]
    """Record their sessions with the session recorder."""
    posture: NotRequired[list[str]]
    """Device postures their devices must meet (e.g. `posture:latest`)."""


class SessionRecordingArgs(TypedDict):
    enabled: NotRequired[bool]
    """Deploy a recorder (default false)."""
    enforce: NotRequired[bool]
    """Fail closed: refuse recorded sessions when no recorder is reachable (default true)."""
    record_api_requests: NotRequired[bool]
    """Record every API request, not only exec/attach sessions (operator >= 1.96)."""
    replicas: NotRequired[int]
    """Recorder replicas (default 1; more need S3)."""
    s3: NotRequired[S3StorageArgs]
    """S3 storage for recordings."""


class PolicyArgs(TypedDict):
    manage: NotRequired[bool]
    """Write the tailnet policy file (default true); false exports only the fragment."""
    base: NotRequired[str]
    """Path (relative to the project root) of a HuJSON file with the rest of the policy."""
    base_text: NotRequired[str]
    """The rest of the policy as HuJSON text (e.g. `tailscale.get_acl().hujson`); instead of
    `base`."""
    adopt_existing: NotRequired[bool]
    """Overwrite a policy Pulumi did not create yet; export it into `base` first."""
    network_rules: NotRequired[str]
    """`acls` (like the guide, default) or `grants` with `ip`."""


class WorkloadIdentityArgs(TypedDict):
    issuer: str
    """The cluster's OIDC issuer, an https URL (EKS:
    `https://oidc.eks.<region>.amazonaws.com/id/<id>`)."""
    audience: NotRequired[str]
    """Audience of the federated identity (default: the one Tailscale generates)."""
    allow_public_discovery: NotRequired[bool]
    """Bind `system:unauthenticated` to `system:service-account-issuer-discovery`
    (ClusterRoleBinding `oidc-discovery`), for self-hosted issuers whose discovery endpoints
    are not public yet (default false)."""


class OAuthArgs(TypedDict):
    client_id: NotRequired[str]
    """An existing OAuth client's ID; without it the stack creates one."""
    client_secret: NotRequired[pulumi.Input[str]]
    """Its secret; stays a Pulumi secret."""
    workload_identity: NotRequired[WorkloadIdentityArgs]
    """Authenticate the operator with its ServiceAccount token through a federated identity
    instead of an OAuth client secret (not with `client_id`/`client_secret`)."""


class SecureClusterAccessArgs(TypedDict):
    cluster: str
    """Cluster name: a DNS label; the default ProxyGroup hostname."""
    tags: NotRequired[TagsArgs]
    """Tags of the operator, proxies and recorder."""
    operator: NotRequired[OperatorArgs]
    """Operator installation."""
    proxy: NotRequired[ProxyArgs]
    """API server proxy."""
    access: NotRequired[list[AccessRuleArgs]]
    """Who gets which Kubernetes groups (default: the guide's two rules)."""
    role_bindings: NotRequired[list[RoleBindingArgs]]
    """ClusterRoleBindings for impersonated groups (default: `tailnet-readers` -> `view`)."""
    groups: NotRequired[dict[str, list[str]]]
    """Tailnet groups this stack defines, e.g. `{"group:ml-readers": ["bob@example.com"]}`."""
    postures: NotRequired[dict[str, list[str]]]
    """Device postures this stack defines."""
    session_recording: NotRequired[SessionRecordingArgs]
    """Session recording."""
    policy: NotRequired[PolicyArgs]
    """How the tailnet policy file is written."""
    oauth: NotRequired[OAuthArgs]
    """Bring your own OAuth client, or use workload identity."""
    allow_broad_admin: NotRequired[bool]
    """Allow cluster-admin for broad sources such as `autogroup:member`."""
    tailnet_domain: NotRequired[str]
    """The tailnet's DNS name (e.g. `tailxyz.ts.net`) to know the proxy URL up front."""
    tag_scheme: NotRequired[str]
    """`shared` (the guide's tags, default) or `per-cluster` (tags carry the cluster name, for
    fleets)."""


def project_root() -> Path:
    """Where relative paths in args (policy.base) start: the project's root (Pulumi.yaml), also
    when another language's program hosts the component; else the working directory."""
    root = pulumi.runtime.settings.SETTINGS.root_directory
    # Test harnesses that configure the runtime by hand leave a placeholder here.
    return Path(root) if root and Path(root).is_dir() else Path.cwd()


class SecureClusterAccess(pulumi.ComponentResource):
    """kubectl through the tailnet for one cluster: policy, operator, proxy, recorder, RBAC."""

    proxy_hostname: pulumi.Output[str]
    """Tailnet hostname of the API server proxy."""
    proxy_url: pulumi.Output[str | None]
    """Proxy URL where known (ProxyGroup status, or `tailnet_domain`)."""
    kubeconfig_command: pulumi.Output[str]
    """The exact `tailscale configure kubeconfig ...` command for users."""
    oauth_client_id: pulumi.Output[str]
    """ID of the operator's OAuth client (with workload identity: of its federated identity)."""
    policy_fragment: pulumi.Output[str]
    """This cluster's policy sections (HuJSON), for whoever owns the policy file."""
    access_matrix: pulumi.Output[str]
    """JSON list of who gets what: source, endpoint, ports, groups, roles, recording."""

    def __init__(
        self, name: str, args: SecureClusterAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        if not isinstance(args, Mapping):
            error = InvalidConfig([Problem("", f"expected an object, got {describe(args)}.",
                                           'e.g. {"cluster": "gpu-prod", "access": [...]}.')])
            raise invalid_args(error, "SecureClusterAccess")
        try:
            plan = plan_cluster(args, project_root(), source="args")
        except InvalidConfig as error:
            raise invalid_args(error, "SecureClusterAccess") from None
        self._create(name, plan, opts)

    @classmethod
    def from_plan(
        cls, name: str, plan: ClusterPlan, opts: pulumi.ResourceOptions | None = None
    ) -> "SecureClusterAccess":
        """The component for a plan already made (the stack program plans its config once,
        with `load_stack`, and hands the plan over instead of args)."""
        component = cls.__new__(cls)
        component._create(name, plan, opts)
        return component

    def _create(self, name: str, plan: ClusterPlan, opts: pulumi.ResourceOptions | None) -> None:
        # One method from registration to register_outputs: the SDK records the call stack of
        # every resource, at a cost per frame and resource (a thousand bindings feel it).
        super().__init__("tailscale-cluster-access:index:SecureClusterAccess", name, None, opts)
        self.plan = plan
        # What a reviewer must see in `pulumi preview` too: undecidable policy tests, base
        # rules that reach the endpoint, unrecorded admins, base comments not kept.
        for warning in plan.warnings:
            pulumi.log.warn(warning, resource=self)
        spec = plan.spec
        # depends_on, retain_on_delete and custom_timeouts reach every resource (Pulumi passes
        # only protect and providers from a component to its children).
        child = child_options(self, opts)

        after_policy: list[pulumi.Resource] = []
        if spec.policy.manage:
            self.tailnet_policy = TailnetPolicy.from_rendered(
                f"{name}-policy", plan.policy, adopt_existing=spec.policy.adopt_existing,
                opts=child)
            after_policy = [self.tailnet_policy]

        identity = spec.oauth.workload_identity
        brought = spec.oauth.bring_your_own
        self.operator = TailscaleOperator.from_spec(
            f"{name}-operator",
            OperatorInstall(
                namespace=spec.operator.namespace, chart_version=spec.operator.chart_version,
                hostname=spec.operator.hostname, operator_tag=spec.tags.operator,
                proxy_tag=spec.tags.proxy, api_server_proxy_mode=spec.chart_proxy_mode,
                allow_impersonation=spec.allow_impersonation,
                has_oauth_client_id=brought, has_oauth_client_secret=brought,
                workload_identity_issuer=identity.issuer if identity else "",
                workload_identity_audience=identity.audience if identity else ""),
            SecretInputs({"oauthClientId": spec.oauth.client_id,
                          "oauthClientSecret": plan.secrets.get("oauth.clientSecret")}),
            opts=child_options(self, opts, depends_on=after_policy),
        )
        after_release: list[pulumi.Resource] = [self.operator.release]

        self.api_server_proxy = ApiServerProxy.from_spec(
            f"{name}-proxy",
            ProxyEndpoint(
                high_availability=spec.proxy.high_availability,
                hostname=spec.endpoint_hostname, mode=spec.proxy.mode,
                replicas=spec.proxy.replicas,
                # The ProxyGroup's own tag; tags.proxy stays the other proxies' default.
                tags=(spec.tags.proxy_group,), tailnet_domain=spec.tailnet_domain,
                hostname_suffix=spec.proxy.hostname_suffix,
                operator_namespace=spec.operator.namespace),
            opts=child_options(self, opts, depends_on=after_release),
        )

        if spec.session_recording.enabled:
            recording = spec.session_recording
            self.session_recorder = SessionRecorder.from_spec(
                f"{name}-recorder",
                RecorderSettings(namespace=spec.operator.namespace, tags=(spec.tags.recorder,),
                                 replicas=recording.replicas, s3=recording.s3),
                SecretInputs({
                    "s3.accessKeyId": plan.secrets.get("sessionRecording.s3.accessKeyId"),
                    "s3.secretAccessKey":
                        plan.secrets.get("sessionRecording.s3.secretAccessKey")}),
                opts=child_options(self, opts, depends_on=after_release),
            )

        if spec.role_bindings:
            self.role_bindings = ClusterRoleBindings.from_spec(
                f"{name}-rbac", RoleBindingSet(bindings=spec.role_bindings), opts=child)

        if identity is not None and identity.allow_public_discovery:
            # Tailscale fetches the issuer's discovery document and keys anonymously.
            self.discovery_binding = rbac.ClusterRoleBinding(  # type: ignore[call-overload]
                f"{name}-{DISCOVERY_BINDING_NAME}",
                metadata={"name": DISCOVERY_BINDING_NAME,
                          "labels": {"app.kubernetes.io/managed-by": "tailscale-cluster-access"}},
                subjects=[{"kind": "Group", "name": DISCOVERY_GROUP,
                           "apiGroup": RBAC_API_GROUP}],
                role_ref={"kind": "ClusterRole", "name": DISCOVERY_CLUSTER_ROLE,
                          "apiGroup": RBAC_API_GROUP},
                opts=child,
            )

        self.proxy_hostname = self.api_server_proxy.hostname
        self.proxy_url = self.api_server_proxy.url
        self.kubeconfig_command = self.api_server_proxy.kubeconfig_command
        self.oauth_client_id = self.operator.oauth_client_id
        self.policy_fragment = pulumi.Output.from_input(plan.fragment_hujson)
        self.access_matrix = pulumi.Output.from_input(
            json.dumps([row.to_json() for row in plan.access])
        )
        self.register_outputs(
            {
                "proxy_hostname": self.proxy_hostname,
                "proxy_url": self.proxy_url,
                "kubeconfig_command": self.kubeconfig_command,
                "oauth_client_id": self.oauth_client_id,
                "policy_fragment": self.policy_fragment,
                "access_matrix": self.access_matrix,
            }
        )
