"""ApiServerProxy: the in-process proxy (guide step 2) or an HA ProxyGroup (step 5)."""

from typing import Any, NotRequired, Optional, TypedDict

import pulumi

from .kube import TailscaleCustomResource


class ApiServerProxyArgs(TypedDict):
    high_availability: bool
    """Run a `kube-apiserver` ProxyGroup instead of the operator's in-process proxy."""
    hostname: str
    """Tailnet hostname clients use: the operator's for in-process, the ProxyGroup's for HA."""
    mode: NotRequired[str]
    """`auth` (impersonate the caller; default) or `noauth`."""
    replicas: NotRequired[int]
    """ProxyGroup replicas (HA only; default 2)."""
    tags: NotRequired[list[str]]
    """Tags of the ProxyGroup devices (HA only); the operator must own them."""
    tailnet_domain: NotRequired[str]
    """The tailnet's DNS name (e.g. `tailxyz.ts.net`), to know the URL before the proxy runs."""


def proxy_group_spec(args: ApiServerProxyArgs) -> dict[str, Any]:
    return {
        "type": "kube-apiserver",
        "replicas": args.get("replicas", 2),
        "tags": list(args.get("tags", [])),
        "kubeAPIServer": {"mode": args.get("mode", "auth"), "hostname": args["hostname"]},
    }


class ApiServerProxy(pulumi.ComponentResource):
    """Where kubectl reaches the cluster on the tailnet."""

    hostname: pulumi.Output[str]
    """Tailnet hostname of the proxy."""
    url: pulumi.Output[Optional[str]]
    """`https://<hostname>.<tailnet>`; unknown until the ProxyGroup reports it unless
    `tailnet_domain` is given."""
    kubeconfig_command: pulumi.Output[str]
    """The `tailscale configure kubeconfig ...` command for this proxy."""

    def __init__(self, name: str, args: ApiServerProxyArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("tailscale-cluster-access:index:ApiServerProxy", name, None, opts)
        hostname = args["hostname"]
        domain = args.get("tailnet_domain", "")
        known_url = f"https://{hostname}.{domain}" if domain else None
        self.hostname = pulumi.Output.from_input(hostname)
        url: pulumi.Output[Optional[str]]
        if args["high_availability"]:
            after = list(opts.depends_on) if opts and isinstance(opts.depends_on, list) else None
            proxy_group = TailscaleCustomResource(
                f"{name}-proxy-group",
                kind="ProxyGroup",
                metadata={"name": hostname,
                          # Pulumi waits until the operator reports the proxies ready.
                          "annotations": {"pulumi.com/waitFor": "condition=ProxyGroupReady"}},
                spec=proxy_group_spec(args),
                opts=pulumi.ResourceOptions(parent=self, depends_on=after,
                                            replace_on_changes=["spec.type"],
                                            delete_before_replace=True),
            )
            self.proxy_group = proxy_group
            url = proxy_group.status.apply(
                lambda status: known_url or (status or {}).get("url"))
            # HA clients need the URL: the ProxyGroup is a Tailscale Service, not a device.
            self.kubeconfig_command = url.apply(
                lambda value: f"tailscale configure kubeconfig {value or 'https://' + hostname}")
        else:
            url = pulumi.Output.from_input(known_url)
            self.kubeconfig_command = pulumi.Output.from_input(
                f"tailscale configure kubeconfig {hostname}")
        self.url = url
        self.register_outputs({"hostname": self.hostname, "url": self.url,
                               "kubeconfig_command": self.kubeconfig_command})
