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

from ..core.chart import DISCOVERY_BINDING_NAME, DISCOVERY_CLUSTER_ROLE, DISCOVERY_GROUP
from ..core.cluster_plan import ClusterPlan, plan_cluster
from ..core.config import SecretInputs, describe
from ..core.config.recording import recorder_created_warning
from ..core.lockdown import creates_discovery_binding
from ..core.parts import OperatorInstall, ProxyEndpoint, RecorderSettings, RoleBindingSet
from ..core.problems import InvalidConfig, Problem
from .api_server_proxy import ApiServerProxy
from .errors import invalid_args
from .kube import child_options
from .operator import TailscaleOperator
from .role_bindings import RBAC_API_GROUP, ClusterRoleBindings, RoleBindingArgs
from .session_recorder import S3StorageArgs, SessionRecorder
from .tailnet_policy import TailnetPolicy


class TagsArgs(TypedDict):
    operator: NotRequired[str]
    """The operator's device; owns the other tags."""
    proxy: NotRequired[str]
    """Proxies the operator creates (ingress, egress, connectors), other than the ProxyGroup."""
    recorder: NotRequired[str]
    """The session recorder."""
    proxy_group: NotRequired[str]
    """The `kube-apiserver` ProxyGroup's devices (HA only), owned by the operator; the API server's
    grants, network rules, tests and autoApprovers target it. Equal to `tags.proxy` is allowed with
    a warning (rules to it then reach every proxy)."""


class OperatorArgs(TypedDict):
    namespace: NotRequired[str]
    """Namespace of the operator, its OAuth Secret and the S3 credentials."""
    chart_version: NotRequired[str]
    """Exact `tailscale-operator` chart version, at least 1.88.0 (1.92.3 refused; 1.98.0-1.98.3
    refused with workload identity)."""
    hostname: NotRequired[str]
    """Tailnet name of the operator and its in-process proxy."""


class ProxyArgs(TypedDict):
    mode: NotRequired[str]
    """`noauth` passes requests without impersonation; needs `proxy.acknowledgeNoauth: true`."""
    high_availability: NotRequired[bool]
    """Serve the API through a `kube-apiserver` ProxyGroup (in-process proxy off)."""
    replicas: NotRequired[int]
    """ProxyGroup replicas (HA only)."""
    hostname: NotRequired[str]
    """ProxyGroup hostname, unique in the tailnet (HA only)."""
    acknowledge_noauth: NotRequired[bool]
    """Confirm that another authenticating proxy stands behind a noauth proxy."""
    hostname_suffix: NotRequired[str]
    """`random`: append `-` and 6 random lower-case letters/digits (stable per stack,
    `pulumi-random`) to the ProxyGroup hostname, for ephemeral/PR stacks (HA only; the hostname
    before the suffix may have at most 45 characters)."""


class AccessRuleArgs(TypedDict):
    src: list[str]
    """Tailnet identities: `group:...`, `tag:...`, login emails, autogroups, `user:*@<domain>` or
    `*`."""
    kubernetes_groups: list[str]
    """Kubernetes groups the proxy impersonates for them (e.g. `system:masters`)."""
    record_sessions: NotRequired[bool]
    """Record their sessions with the session recorder."""
    record_api_requests: NotRequired[bool]
    """`enableEvents` on this rule's grant: record every API request of its sources, not only
    exec/attach sessions (needs recordSessions; operator ≥ 1.94.1);
    `sessionRecording.recordApiRequests` turns it on for every recorded rule."""
    posture: NotRequired[list[str]]
    """Device postures their devices must meet (e.g. `posture:latest`)."""


class BreakGlassArgs(TypedDict):
    src: list[str]
    """Tailnet identities that may reach the cluster when the recorder is down (a small on-call
    group or a tag); no grant that enforces recording may match them (checked on the merged
    policy)."""
    kubernetes_groups: list[str]
    """Kubernetes groups the proxy impersonates for them (e.g. `system:masters` to repair the
    recorder)."""
    posture: NotRequired[list[str]]
    """Device postures their devices must meet (e.g. `posture:latest`); without one any device of
    theirs gets in unrecorded."""


class SessionRecordingArgs(TypedDict):
    enabled: NotRequired[bool]
    """Deploy a `Recorder`."""
    enforce: NotRequired[bool]
    """Fail closed: refuse recorded sessions when no recorder is reachable."""
    record_api_requests: NotRequired[bool]
    """`enableEvents` on every rule that records sessions: record every API request (operator ≥
    1.94.1); `access[].recordApiRequests` for one rule."""
    replicas: NotRequired[int]
    """Recorder replicas; more than one needs S3."""
    s3: NotRequired[S3StorageArgs]
    """S3 storage for recordings."""


class PolicyArgs(TypedDict):
    manage: NotRequired[bool]
    """Write the tailnet policy file; false: export only the fragment (`policyFragment`)."""
    base: NotRequired[str]
    """HuJSON file with the rest of the tailnet policy, relative to the project root; a file holding
    `{}` replaces the whole policy on purpose; not from a Pulumi package (`pulumi package add`),
    which cannot see your project's folder: give `baseText` there."""
    base_text: NotRequired[str]
    """The base policy as HuJSON text instead of a file (not together with `policy.base`)."""
    adopt_existing: NotRequired[bool]
    """Overwrite a policy Pulumi did not write yet (export it into `policy.base` first)."""
    network_rules: NotRequired[str]
    """Open the proxy's ports with `acls` like the guide, or with `grants` + `ip`."""


class WorkloadIdentityArgs(TypedDict):
    issuer: str
    """Workload identity: the cluster's OIDC issuer (an https URL); the stack creates a
    `tailscale.FederatedIdentity` instead of an OAuth client and stores no secret (not with
    `oauth.clientId`/`clientSecret`)."""
    audience: NotRequired[str]
    """Audience of the federated identity; default: the one Tailscale generates
    (`api.tailscale.com/<client-id>`)."""
    allow_public_discovery: NotRequired[bool]
    """Create ClusterRoleBinding `oidc-discovery`: group `system:unauthenticated` → ClusterRole
    `system:service-account-issuer-discovery` (self-hosted issuers only: ignored, with a warning,
    for EKS, GKE and AKS issuers, which the cloud serves)."""


class OAuthArgs(TypedDict):
    client_id: NotRequired[str]
    """An existing OAuth client's ID (bring your own client); without it the stack creates one."""
    client_secret: NotRequired[pulumi.Input[str]]
    """Its secret; set with `pulumi config set --secret --path oauth.clientSecret`."""
    workload_identity: NotRequired[WorkloadIdentityArgs]
    """Authenticate the operator with its ServiceAccount token through a federated identity instead
    of an OAuth client secret."""


class DeployerArgs(TypedDict):
    tag: NotRequired[str]
    """Tag of the deploying machine (CI joining the tailnet with workload identity); gets a
    kubernetes grant and a network rule to the API server endpoint, never recorded."""
    kubernetes_groups: NotRequired[list[str]]
    """Kubernetes groups the proxy impersonates for the deployer."""
    cluster_role: NotRequired[str]
    """ClusterRole bound to those groups (ClusterRoleBinding `<group>-<clusterRole>`)."""


class SecureClusterAccessArgs(TypedDict):
    cluster: str
    """Cluster name; the default ProxyGroup hostname."""
    tags: NotRequired[TagsArgs]
    """Tags of the operator, proxies and recorder."""
    operator: NotRequired[OperatorArgs]
    """Operator installation."""
    proxy: NotRequired[ProxyArgs]
    """API server proxy."""
    access: NotRequired[list[AccessRuleArgs]]
    """Who gets which Kubernetes groups."""
    break_glass: NotRequired[BreakGlassArgs]
    """A way in that never fails closed: a grant (and network rule) without recording for `src`,
    refused when a grant that enforces recording also matches them."""
    role_bindings: NotRequired[list[RoleBindingArgs]]
    """One ClusterRoleBinding per `{group, clusterRole}`, named `<group>-<clusterRole>`."""
    groups: NotRequired[dict[str, list[str]]]
    """Tailnet groups this stack defines: `group:name: [emails]`."""
    postures: NotRequired[dict[str, list[str]]]
    """Device postures: `posture:name: [conditions]`."""
    session_recording: NotRequired[SessionRecordingArgs]
    """Session recording."""
    policy: NotRequired[PolicyArgs]
    """How the tailnet policy file is written."""
    oauth: NotRequired[OAuthArgs]
    """Bring your own OAuth client, or use workload identity."""
    allow_broad_admin: NotRequired[bool]
    """Allow cluster-admin for `*`, `autogroup:member`, `autogroup:tagged` or `user:*@domain`."""
    tailnet_domain: NotRequired[str]
    """The tailnet's DNS name (`tailxyz.ts.net`), to know the proxy URL before it runs."""
    deployer: NotRequired[DeployerArgs]
    """Deploy through the tailnet: `{tag, kubernetesGroups, clusterRole}` (defaults `tag:ci`,
    `tailnet-deployers`, `cluster-admin`); adds tagOwners, a grant, a network rule, a
    ClusterRoleBinding, a `deployer` row and the `deployKubeconfig` output."""
    tag_scheme: NotRequired[str]
    """`per-cluster`: default tags become `tag:k8s-operator-<cluster>`, `tag:k8s-<cluster>`,
    `tag:tsrecorder-<cluster>`, `tag:k8s-apiserver-<cluster>`, for several clusters in one tailnet;
    explicit `tags.*` still win."""


_hosted_as_package = False


def host_as_package() -> None:
    """This process serves the components as a Pulumi package (provider/__main__.py): the
    engine starts it in the package's folder and tells it nothing of the consumer's project
    (a ConstructRequest carries no directory), so relative paths in args cannot be resolved."""
    global _hosted_as_package
    _hosted_as_package = True


def project_root() -> Path | None:
    """Where relative paths in args (policy.base) start: the project's root (Pulumi.yaml), else
    the working directory; None when hosted as a package (see `host_as_package`)."""
    if _hosted_as_package:
        return None
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

    def _warn_when_created(self, resource: pulumi.CustomResource,
                           warning: str) -> pulumi.Output[bool]:
        """`warning` in a preview that creates or replaces `resource` (its ID is unknown
        then; known for a resource the update keeps)."""
        async def warn() -> bool:
            created = not await resource.id.is_known()
            if created:
                pulumi.log.warn(warning, resource=self)
            return created
        return pulumi.Output.from_input(warn())

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
            # A new operator namespace replaces the release delete-first; replace_with makes
            # the engine delete the ProxyGroup before it, while the operator can still clear
            # its finalizers (else the CRD stays Terminating and the uninstall times out).
            opts=child_options(self, opts, depends_on=after_release,
                               replace_with=after_release),
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
                opts=child_options(self, opts, depends_on=after_release,
                                   replace_with=after_release),
            )

        if spec.all_role_bindings:
            self.role_bindings = ClusterRoleBindings.from_spec(
                f"{name}-rbac", RoleBindingSet(bindings=spec.all_role_bindings), opts=child)

        if creates_discovery_binding(spec):
            # Tailscale fetches a self-hosted issuer's discovery document and keys anonymously.
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
        created_warning = recorder_created_warning(spec)
        if created_warning and pulumi.runtime.is_dry_run():
            # Chained into a registered output, so that every host (also the component
            # provider) waits for the warning.
            self.access_matrix = pulumi.Output.all(
                self.access_matrix,
                self._warn_when_created(self.session_recorder.recorder, created_warning),
            ).apply(lambda both: str(both[0]))
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
