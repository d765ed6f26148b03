"""`python -m tailscale_cluster_access`: the same CLI as `tailscale-cluster-access`."""

from .offline.cli import console_main

console_main()
