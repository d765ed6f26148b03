"""`python -m tailscale_cluster_access`: the same CLI as `tailscale-cluster-access`."""

from .offline.cli import main

raise SystemExit(main())
