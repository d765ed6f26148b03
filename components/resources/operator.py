"""TailscaleOperator: OAuth client (or federated identity), namespace, credentials Secret, the
operator's Helm release."""

from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_tailscale as tailscale
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.helm import v3 as helm

from ..core.config import ArgChecker, chart_version_tuple
from ..core.config.credentials import is_https_url
from ..core.problems import Problem
from ..core.secret_keys import OAUTH_SECRET_KEYS
from ..core.spec import (
    HELM_CHART,
    HELM_REPOSITORY,
    MIN_CHART_VERSION,
    OAUTH_SCOPES,
    OAUTH_SECRET_NAME,
    WORKLOAD_IDENTITY_BROKEN_CHART_VERSIONS,
    WORKLOAD_IDENTITY_BROKEN_REASON,
    OAuthSettings,
)
from .errors import raise_for_problems
from .existing import existing_object_hooks
from .kube import child_options
from .secrets import as_secret

OAUTH_CLIENT_ANNOTATION = "tailscale-cluster-access/oauth-client-id"


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
    """Workload identity: the cluster's OIDC issuer (https URL). The component creates a
    federated identity for the operator's ServiceAccount instead of an OAuth client; no secret
    is stored."""
    workload_identity_audience: NotRequired[str]
    """Audience of the federated identity (default: the one Tailscale generates)."""


def helm_values(args: TailscaleOperatorArgs,
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
        "defaultTags": [args["operator_tag"]],
        "hostname": args["hostname"],
    }
    if client_id is not None:
        operator_config["podAnnotations"] = {OAUTH_CLIENT_ANNOTATION: client_id}
    return {
        "installCRDs": True,
        **credentials,
        "operatorConfig": operator_config,
        # The chart takes proxy tags as one comma-separated string.
        "proxyConfig": {"defaultTags": args["proxy_tag"]},
        "apiServerProxyConfig": {
            "mode": args["api_server_proxy_mode"],
            "allowImpersonation": "true" if args["allow_impersonation"] else "false",
        },
    }


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
        check = ArgChecker()
        check.dns_label("namespace", args.get("namespace"))
        check.dns_label("hostname", args.get("hostname"))
        check.tag("operator_tag", args.get("operator_tag"))
        check.tag("proxy_tag", args.get("proxy_tag"))
        check.one_of(
            "api_server_proxy_mode", args.get("api_server_proxy_mode"), ("true", "false", "noauth")
        )
        version = chart_version_tuple(str(args.get("chart_version", "")))
        if version is None or version < MIN_CHART_VERSION:
            check.problems.append(
                Problem(
                    "chart_version",
                    f"{args.get('chart_version')!r} is not "
                    "an exact chart version of 1.88.0 or newer.",
                    'pin a release such as "1.102.3".',
                )
            )
        if bool(args.get("oauth_client_id")) != bool(args.get("oauth_client_secret")):
            check.problems.append(
                Problem(
                    "oauth_client_secret",
                    "give oauth_client_id and oauth_client_secret together, or neither.",
                )
            )
        issuer = args.get("workload_identity_issuer")
        if issuer is not None and not (isinstance(issuer, str) and is_https_url(issuer)):
            check.problems.append(Problem("workload_identity_issuer",
                                          f"{issuer!r} is not an https URL.",
                                          "give the cluster's OIDC issuer URL."))
        low, high = WORKLOAD_IDENTITY_BROKEN_CHART_VERSIONS
        if issuer and version is not None and low <= version <= high:
            check.problems.append(Problem("chart_version",
                                          f"{args.get('chart_version')!r} "
                                          f"{WORKLOAD_IDENTITY_BROKEN_REASON}",
                                          'use "1.98.4" or newer.'))
        if issuer and args.get("oauth_client_id"):
            check.problems.append(Problem("workload_identity_issuer",
                                          "cannot be combined with oauth_client_id.",
                                          "give one of them."))
        raise_for_problems(check.problems, "TailscaleOperator")
        super().__init__("tailscale-cluster-access:index:TailscaleOperator", name, None, opts)
        # The OAuth client can only carry tags that already exist in the policy.

        namespace = core.Namespace(
            f"{name}-namespace",
            metadata={"name": args["namespace"]},
            opts=child_options(self, opts, hooks=existing_object_hooks(f"{name}-namespace")),
        )
        self.oauth_secret: core.Secret | None = None
        self.federated_identity: tailscale.FederatedIdentity | None = None
        client_id: pulumi.Input[str]
        oauth_values: dict[str, pulumi.Input[str]] | None = None
        release_after: list[pulumi.Resource] = [namespace]
        description = f"Tailscale Kubernetes operator {args['hostname']}"[:50]
        if issuer:
            audience = args.get("workload_identity_audience") or None
            identity = tailscale.FederatedIdentity(
                f"{name}-federated-identity",
                description=description,
                issuer=issuer,
                subject=OAuthSettings().operator_subject(args["namespace"]),
                scopes=list(OAUTH_SCOPES),
                tags=[args["operator_tag"]],
                audience=audience,
                opts=child_options(self, opts),
            )
            self.federated_identity = identity
            client_id = identity.id
            oauth_values = {"clientId": identity.id,
                            "audience": audience if audience else identity.audience}
        else:
            if args.get("oauth_client_id"):
                client_id = args["oauth_client_id"]
                client_secret = as_secret(args.get("oauth_client_secret"))
            else:
                client = tailscale.OauthClient(
                    f"{name}-oauth-client",
                    description=description,
                    scopes=list(OAUTH_SCOPES),
                    tags=[args["operator_tag"]],
                    opts=child_options(self, opts, additional_secret_outputs=["key"]),
                )
                client_id = client.id
                client_secret = pulumi.Output.secret(client.key)
            self.oauth_secret = core.Secret(
                f"{name}-oauth",
                metadata={"name": OAUTH_SECRET_NAME, "namespace": args["namespace"]},
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
            version=args["chart_version"],
            repository_opts={"repo": HELM_REPOSITORY},
            namespace=args["namespace"],
            values=helm_values(args, oauth_values, client_id),
            # A namespace change replaces the release, create-before-delete by default; the
            # chart's cluster-scoped objects (CRDs, ClusterRoles, IngressClass) would clash
            # with a second release created first, so the old one goes first.
            opts=child_options(self, opts, depends_on=release_after,
                               delete_before_replace=True,
                               hooks=existing_object_hooks(f"{name}-release")),
        )
        self.release = release
        self.oauth_client_id = pulumi.Output.from_input(client_id).apply(_or_empty)
        self.namespace = pulumi.Output.from_input(args["namespace"])
        self.release_name = release.name.apply(_or_empty)
        self.register_outputs(
            {
                "oauth_client_id": self.oauth_client_id,
                "namespace": self.namespace,
                "release_name": self.release_name,
            }
        )
