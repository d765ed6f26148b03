"""Deploying through the tailnet: the deployer's row and the kubeconfig its runs use.

The kubeconfig is the one `tailscale configure kubeconfig <host>` writes (tailscale/tailscale
`cmd/tailscale/cli/configure-kube.go`, `updateKubeconfig`): a cluster and a context both named
by the proxy's FQDN with server `https://<fqdn>`, and the user `tailscale-auth` whose token is
the literal `unused` (the proxy authenticates the caller by its tailnet identity; without some
credential kubectl would prompt for a username and password).
"""

import dataclasses
from collections.abc import Sequence
from typing import Final

import yaml

from .policy.access import DEPLOYER, GRANT, AccessRow
from .spec import ClusterAccessSpec

KUBECONFIG_USER: Final = "tailscale-auth"
KUBECONFIG_TOKEN: Final = "unused"


def mark_deployer(spec: ClusterAccessSpec, rows: Sequence[AccessRow]) -> list[AccessRow]:
    """The rows, the deployer tag's grant row marked `deployer` (one without a network path
    keeps its kind: it is no way in)."""
    if spec.deployer is None:
        return list(rows)
    tag = spec.deployer.tag
    return [dataclasses.replace(row, kind=DEPLOYER) if row.src == tag and row.kind == GRANT
            else row for row in rows]


def deploy_kubeconfig(url: str) -> str:
    """The kubeconfig (YAML) for the API server proxy at `url` (`https://<fqdn>`)."""
    fqdn = url.removeprefix("https://").removeprefix("http://").rstrip("/")
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": fqdn, "cluster": {"server": f"https://{fqdn}"}}],
        "users": [{"name": KUBECONFIG_USER, "user": {"token": KUBECONFIG_TOKEN}}],
        "contexts": [{"name": fqdn, "context": {"cluster": fqdn, "user": KUBECONFIG_USER}}],
        "current-context": fqdn,
    }
    # Sorted keys, as the CLI's sigs.k8s.io/yaml writes them.
    return str(yaml.safe_dump(config, sort_keys=True, default_flow_style=False))
