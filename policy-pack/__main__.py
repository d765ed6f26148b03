"""The tailscale-cluster-access policy pack: `pulumi preview --policy-pack policy-pack`.

Only builds the pack (constructing PolicyPack starts the analyzer server and blocks);
the rules live in `tailscale_cluster_access_policies.py`, where tests call them directly.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from tailscale_cluster_access_policies import POLICIES

PolicyPack(
    name="tailscale-cluster-access",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
