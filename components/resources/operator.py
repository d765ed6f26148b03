"""TailscaleOperator: OAuth client, namespace, credentials Secret, the operator's Helm release."""

from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_tailscale as tailscale
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.helm import v3 as helm

from ..core.config import ArgChecker, chart_version_tuple
from ..core.problems import Problem
from ..core.spec import HELM_CHART, HELM_REPOSITORY, MIN_CHART_VERSION, OAUTH_SCOPES
from .errors import raise_for_problems
from .existing import existing_object_hooks
from .kube import child_options
from .secrets import as_secret

OAUTH_SECRET_NAME = "operator-oauth"
OAUTH_CLIENT_ANNOTATION = "tailscale-cluster-access/oauth-client-id"


class TailscaleOperatorArgs(TypedDict):
    namespace: str
    """Namespace for the operator (the guide's `tailscale`)."""
    chart_version: str
    """Exact `tailscale-operator` chart version, e.g. `1.92.4`."""
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


def helm_values(args: TailscaleOperatorArgs,
                client_id: pulumi.Input[str] | None = None) -> dict[str, Any]:
    """Chart values. The OAuth credentials are mounted from a Secret, never passed as values.

    `client_id` (not secret) becomes a pod annotation: the operator reads its credentials only
    at start, so new credentials (a rotated OAuth client has a new ID) must restart its pod."""
    operator_config: dict[str, Any] = {
        "defaultTags": [args["operator_tag"]],
        "hostname": args["hostname"],
    }
    if client_id is not None:
        operator_config["podAnnotations"] = {OAUTH_CLIENT_ANNOTATION: client_id}
    return {
        "installCRDs": True,
        "oauthSecretVolume": {"secret": {"secretName": OAUTH_SECRET_NAME}},
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
    """ID of the OAuth client the operator authenticates with."""
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
                    'pin a release such as "1.92.4".',
                )
            )
        if bool(args.get("oauth_client_id")) != bool(args.get("oauth_client_secret")):
            check.problems.append(
                Problem(
                    "oauth_client_secret",
                    "give oauth_client_id and oauth_client_secret together, or neither.",
                )
            )
        raise_for_problems(check.problems, "TailscaleOperator")
        super().__init__("tailscale-cluster-access:index:TailscaleOperator", name, None, opts)
        # The OAuth client can only carry tags that already exist in the policy.

        client_id: pulumi.Input[str]
        if args.get("oauth_client_id"):
            client_id = args["oauth_client_id"]
            client_secret = as_secret(args.get("oauth_client_secret"))
        else:
            client = tailscale.OauthClient(
                f"{name}-oauth-client",
                description=f"Tailscale Kubernetes operator {args['hostname']}"[:50],
                scopes=list(OAUTH_SCOPES),
                tags=[args["operator_tag"]],
                opts=child_options(self, opts, additional_secret_outputs=["key"]),
            )
            client_id = client.id
            client_secret = pulumi.Output.secret(client.key)

        namespace = core.Namespace(
            f"{name}-namespace",
            metadata={"name": args["namespace"]},
            opts=child_options(self, opts, hooks=existing_object_hooks(f"{name}-namespace")),
        )
        oauth_secret = core.Secret(
            f"{name}-oauth",
            metadata={"name": OAUTH_SECRET_NAME, "namespace": args["namespace"]},
            type="Opaque",
            string_data={"client_id": client_id, "client_secret": client_secret},
            opts=child_options(
                self, opts,
                depends_on=[namespace],
                hooks=existing_object_hooks(f"{name}-oauth"),
                additional_secret_outputs=["stringData", "data"],
            ),
        )
        release = helm.Release(
            f"{name}-release",
            name="tailscale-operator",
            chart=HELM_CHART,
            version=args["chart_version"],
            repository_opts={"repo": HELM_REPOSITORY},
            namespace=args["namespace"],
            values=helm_values(args, client_id),
            # A namespace change replaces the release; the chart's cluster-scoped objects
            # (CRDs, ClusterRoles, IngressClass) would clash with a second release created
            # first, so the old one goes before the new one comes (NOTES §7).
            opts=child_options(self, opts, depends_on=[namespace, oauth_secret],
                               delete_before_replace=True,
                               hooks=existing_object_hooks(f"{name}-release")),
        )
        self.release = release
        self.oauth_secret = oauth_secret
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
