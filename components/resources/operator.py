"""TailscaleOperator: OAuth client (or federated identity), namespace, credentials Secret, the
operator's Helm release."""

from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_tailscale as tailscale
from pulumi.output import Unknown
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.helm import v3 as helm

from ..core.chart import HELM_CHART, HELM_REPOSITORY, OAUTH_SCOPES, OAUTH_SECRET_NAME
from ..core.config import SecretInputs
from ..core.parts import OperatorInstall
from ..core.secret_keys import OAUTH_SECRET_KEYS
from ..core.spec import OAuthSettings
from .errors import read_args
from .existing import existing_object_hooks
from .kube import child_options, helm_timeout
from .secrets import as_secret

OAUTH_CLIENT_ANNOTATION = "tailscale-cluster-access/oauth-client-id"
# The annotation's value in a preview that creates the client (first `up`, rotation): its ID
# is unknown until it exists, and values with an unknown in them make pulumi-kubernetes skip
# the chart check (helm_release.go: Check loads the chart only when no input is unknown).
NEW_CLIENT_MARKER = "(new client: its ID is set when it exists)"


class TailscaleOperatorArgs(TypedDict):
    namespace: str
    """Namespace for the operator (the guide's `tailscale`)."""
    chart_version: str
    """Exact `tailscale-operator` chart version, e.g. `1.102.3`."""
    hostname: str
    """Tailnet hostname of the operator device (and of the in-process API server proxy)."""
    operator_tag: str
    """Tag the operator's device gets; the OAuth client may apply it."""
    proxy_tag: str
    """Default tag of the proxies the operator creates."""
    api_server_proxy_mode: str
    """`apiServerProxyConfig.mode`: "true" (auth), "noauth", or "false" when a ProxyGroup serves."""
    allow_impersonation: bool
    """`apiServerProxyConfig.allowImpersonation`, needed by an auth-mode ProxyGroup."""
    oauth_client_id: NotRequired[pulumi.Input[str]]
    """Bring your own OAuth client; without it the component creates one."""
    oauth_client_secret: NotRequired[pulumi.Input[str]]
    """Secret of the client given in `oauth_client_id`; stays a Pulumi secret."""
    workload_identity_issuer: NotRequired[str]
    """Workload identity: the cluster's OIDC issuer (https URL). The component creates a federated
    identity for the operator's ServiceAccount instead of an OAuth client; no secret is stored."""
    workload_identity_audience: NotRequired[str]
    """Audience of the federated identity (default: the one Tailscale generates)."""


def helm_values(args: OperatorInstall,
                oauth: dict[str, pulumi.Input[str]] | None = None,
                client_id: pulumi.Input[str] | None = None) -> dict[str, Any]:
    """Chart values. The OAuth credentials are mounted from a Secret, never passed as values;
    with workload identity (`oauth` = clientId and audience) nothing secret exists.

    `client_id` (not secret) becomes a pod annotation: the operator reads its credentials only
    at start, so new credentials (a rotated OAuth client has a new ID) must restart its pod."""
    credentials: dict[str, Any] = (
        {"oauth": oauth} if oauth is not None
        else {"oauthSecretVolume": {"secret": {"secretName": OAUTH_SECRET_NAME}}})
    operator_config: dict[str, Any] = {
        "defaultTags": [args.operator_tag],
        "hostname": args.hostname,
    }
    if client_id is not None:
        operator_config["podAnnotations"] = {OAUTH_CLIENT_ANNOTATION: client_id}
    return {
        "installCRDs": True,
        **credentials,
        "operatorConfig": operator_config,
        # The chart takes proxy tags as one comma-separated string.
        "proxyConfig": {"defaultTags": args.proxy_tag},
        "apiServerProxyConfig": {
            "mode": args.api_server_proxy_mode,
            "allowImpersonation": "true" if args.allow_impersonation else "false",
        },
    }


def restart_marker(client_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """The pod annotation: the client's ID, or `NEW_CLIENT_MARKER` where a preview does not
    know it yet. Known in every preview, and different from the ID in the state whenever the
    credentials change: a new ID (brought client), or a client the update creates or replaces
    (`pulumi up --replace`, a replacing input change), whose ID a preview does not know."""
    return pulumi.Output.from_input(client_id).apply(
        lambda value: NEW_CLIENT_MARKER if isinstance(value, Unknown) else value,
        run_with_unknowns=True)


def _or_empty(value: str | None) -> str:
    return value or ""


class TailscaleOperator(pulumi.ComponentResource):
    """The Tailscale Kubernetes operator (guide step 2), with its API server proxy settings."""

    oauth_client_id: pulumi.Output[str]
    """ID of the OAuth client (or federated identity) the operator authenticates with."""
    namespace: pulumi.Output[str]
    """Namespace the operator runs in."""
    release_name: pulumi.Output[str]
    """Name of the Helm release."""

    def __init__(
        self, name: str, args: TailscaleOperatorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        install, inputs = read_args(OperatorInstall, args, "TailscaleOperator")
        self._create(name, install, inputs, opts)

    @classmethod
    def from_spec(cls, name: str, install: OperatorInstall, inputs: SecretInputs,
                  opts: pulumi.ResourceOptions | None = None) -> "TailscaleOperator":
        """The component for settings already validated (SecureClusterAccess's plan);
        `inputs` holds `oauthClientId` and `oauthClientSecret` when a client is brought."""
        component = cls.__new__(cls)
        component._create(name, install, inputs, opts)
        return component

    def _create(self, name: str, args: OperatorInstall, inputs: SecretInputs,
                opts: pulumi.ResourceOptions | None) -> None:
        super().__init__("tailscale-cluster-access:index:TailscaleOperator", name, None, opts)
        issuer = args.workload_identity_issuer
        namespace = core.Namespace(
            f"{name}-namespace",
            metadata={"name": args.namespace},
            opts=child_options(self, opts, hooks=existing_object_hooks(f"{name}-namespace")),
        )
        self.oauth_secret: core.Secret | None = None
        self.federated_identity: tailscale.FederatedIdentity | None = None
        client_id: pulumi.Input[str]
        oauth_values: dict[str, pulumi.Input[str]] | None = None
        release_after: list[pulumi.Resource] = [namespace]
        description = f"Tailscale Kubernetes operator {args.hostname}"[:50]
        if issuer:
            audience = args.workload_identity_audience or None
            identity = tailscale.FederatedIdentity(
                f"{name}-federated-identity",
                description=description,
                issuer=issuer,
                subject=OAuthSettings().operator_subject(args.namespace),
                scopes=list(OAUTH_SCOPES),
                tags=[args.operator_tag],
                audience=audience,
                opts=child_options(self, opts),
            )
            self.federated_identity = identity
            client_id = identity.id
            oauth_values = {"clientId": identity.id,
                            "audience": audience if audience else identity.audience}
        else:
            if args.has_oauth_client_id:
                client_id = inputs.get("oauthClientId")
                client_secret = as_secret(inputs.get("oauthClientSecret"))
            else:
                client = tailscale.OauthClient(
                    f"{name}-oauth-client",
                    description=description,
                    scopes=list(OAUTH_SCOPES),
                    tags=[args.operator_tag],
                    opts=child_options(self, opts, additional_secret_outputs=["key"]),
                )
                client_id = client.id
                client_secret = pulumi.Output.secret(client.key)
            self.oauth_secret = core.Secret(
                f"{name}-oauth",
                metadata={"name": OAUTH_SECRET_NAME, "namespace": args.namespace},
                type="Opaque",
                string_data=dict(zip(OAUTH_SECRET_KEYS, (client_id, client_secret), strict=True)),
                opts=child_options(
                    self, opts,
                    depends_on=[namespace],
                    hooks=existing_object_hooks(f"{name}-oauth"),
                    additional_secret_outputs=["stringData", "data"],
                ),
            )
            release_after.append(self.oauth_secret)
        release = helm.Release(
            f"{name}-release",
            name="tailscale-operator",
            chart=HELM_CHART,
            version=args.chart_version,
            repository_opts={"repo": HELM_REPOSITORY},
            namespace=args.namespace,
            values=helm_values(args, oauth_values, restart_marker(client_id)),
            # Helm's own wait, else 300 s whatever custom_timeouts say.
            timeout=helm_timeout(opts),
            # A namespace change replaces the release; the chart's cluster-scoped objects
            # (CRDs, ClusterRoles, IngressClass) would clash with a second release created
            # first, so the old one goes before the new one comes.
            opts=child_options(self, opts, depends_on=release_after,
                               delete_before_replace=True,
                               hooks=existing_object_hooks(f"{name}-release")),
        )
        self.release = release
        self.oauth_client_id = pulumi.Output.from_input(client_id).apply(_or_empty)
        self.namespace = pulumi.Output.from_input(args.namespace)
        self.release_name = release.name.apply(_or_empty)
        self.register_outputs(
            {
                "oauth_client_id": self.oauth_client_id,
                "namespace": self.namespace,
                "release_name": self.release_name,
            }
        )
