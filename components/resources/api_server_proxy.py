"""ApiServerProxy: the in-process proxy (guide step 2) or an HA ProxyGroup (step 5)."""

from typing import Any, NotRequired, TypedDict

import pulumi

from ..core.chart import RANDOM_SUFFIX_LENGTH
from ..core.parts import ProxyEndpoint
from .errors import read_args
from .kube import (
    DEVICE_REPLACE_ON_CHANGES,
    TailscaleCustomResource,
    child_options,
    operator_namespace_annotation,
    replace_with_options,
    take_replace_with,
)

# Tags apply only when the operator creates the devices: a tag change must
# replace the ProxyGroup (`spec.type` is immutable in the CRD; no replace needed there).
REPLACE_ON_CHANGES = DEVICE_REPLACE_ON_CHANGES


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
    hostname_suffix: NotRequired[str]
    """`random` (HA only): append `-` and 6 random lower-case letters/digits to the ProxyGroup
    hostname, stable for the life of the stack; for ephemeral/PR stacks. Default: none."""
    operator_namespace: NotRequired[str]
    """Namespace of the operator whose release installs the CRDs (HA only): a change replaces the
    ProxyGroup together with the release."""


def proxy_group_spec(args: ProxyEndpoint, hostname: pulumi.Input[str]) -> dict[str, Any]:
    return {
        "type": "kube-apiserver",
        "replicas": args.replicas,
        "tags": list(args.tags),
        "kubeAPIServer": {"mode": args.mode, "hostname": hostname},
    }


def random_suffixed_hostname(name: str, hostname: str, parent: pulumi.Resource,
                             opts: pulumi.ResourceOptions | None = None) -> pulumi.Output[str]:
    """`<hostname>-<suffix>`: a new stack draws a new suffix, an existing one keeps it."""
    # Imported here so that stacks without a suffix do not pay for pulumi_random.
    from pulumi_random import RandomString

    suffix = RandomString(
        name, length=RANDOM_SUFFIX_LENGTH, lower=True, upper=False, numeric=True,
        special=False, keepers={"stack": pulumi.get_stack()},
        opts=child_options(parent, opts))
    return suffix.result.apply(lambda value: f"{hostname}-{value}")


class ApiServerProxy(pulumi.ComponentResource):
    """Where kubectl reaches the cluster on the tailnet. `opts.replace_with` (e.g. the
    operator's release) applies to the ProxyGroup: it is deleted before that release is."""

    hostname: pulumi.Output[str]
    """Tailnet hostname of the proxy."""
    url: pulumi.Output[str | None]
    """`https://<hostname>.<tailnet>`; unknown until the ProxyGroup reports it unless
    `tailnet_domain` is given."""
    kubeconfig_command: pulumi.Output[str]
    """The `tailscale configure kubeconfig ...` command for this proxy."""

    def __init__(self, name: str, args: ApiServerProxyArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        endpoint, _ = read_args(ProxyEndpoint, args, "ApiServerProxy")
        self._create(name, endpoint, opts)

    @classmethod
    def from_spec(cls, name: str, endpoint: ProxyEndpoint,
                  opts: pulumi.ResourceOptions | None = None) -> "ApiServerProxy":
        """The component for settings already validated (SecureClusterAccess's plan)."""
        component = cls.__new__(cls)
        component._create(name, endpoint, opts)
        return component

    def _create(self, name: str, args: ProxyEndpoint,
                opts: pulumi.ResourceOptions | None) -> None:
        opts, replace_with = take_replace_with(opts)
        super().__init__("tailscale-cluster-access:index:ApiServerProxy", name, None, opts)
        random_suffix = args.hostname_suffix == "random" and args.high_availability
        hostname = args.hostname
        domain = args.tailnet_domain
        host: pulumi.Input[str] = hostname
        if random_suffix:
            host = random_suffixed_hostname(f"{name}-hostname-suffix", hostname, self, opts)
        known_url: pulumi.Input[str] | None = f"https://{hostname}.{domain}" if domain else None
        if domain and random_suffix:
            known_url = pulumi.Output.from_input(host).apply(lambda h: f"https://{h}.{domain}")
        self.hostname = pulumi.Output.from_input(host)
        url: pulumi.Output[str | None]
        if args.high_availability:
            proxy_group = TailscaleCustomResource(
                f"{name}-proxy-group",
                kind="ProxyGroup",
                metadata={"name": host,
                          # Pulumi waits until the operator reports the proxies ready.
                          "annotations": {"pulumi.com/waitFor": "condition=ProxyGroupReady",
                                          **operator_namespace_annotation(
                                              args.operator_namespace or None)}},
                spec=proxy_group_spec(args, host),
                opts=child_options(self, opts, replace_on_changes=list(REPLACE_ON_CHANGES),
                                   delete_before_replace=True,
                                   **replace_with_options(replace_with, self)),
            )
            self.proxy_group = proxy_group
            url = (pulumi.Output.from_input(known_url) if known_url else
                   proxy_group.status.apply(lambda status: (status or {}).get("url")))
            # HA clients need the URL: the ProxyGroup is a Tailscale Service, not a device.
            self.kubeconfig_command = pulumi.Output.all(url, self.hostname).apply(
                lambda both: f"tailscale configure kubeconfig {both[0] or 'https://' + both[1]}")
        else:
            url = pulumi.Output.from_input(known_url)
            self.kubeconfig_command = pulumi.Output.from_input(
                f"tailscale configure kubeconfig {hostname}")
        self.url = url
        self.register_outputs({"hostname": self.hostname, "url": self.url,
                               "kubeconfig_command": self.kubeconfig_command})
