"""tailscale-cluster-access: kubectl through the tailnet, as Pulumi components.

Public API: the components with their `...Args` TypedDicts, and the pure policy
functions (`plan_cluster`, `parse_spec`, `build_fragment`, `merge_policies`,
`access_matrix`). Module-level names not listed in `__all__` are private.

Every name is imported on first use: the pure functions (and the `plan` CLI's validation)
do not pay for importing the Pulumi providers, and the offline runner pays for neither.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# Public name -> module that defines it. Nothing is imported until used: the offline runner
# and the CLI's other commands need none of it, and the components need the Pulumi SDKs.
_PUBLIC = {
    "ClusterPlan": ".core.cluster_plan",
    "plan_cluster": ".core.cluster_plan",
    "parse_spec": ".core.config",
    "AccessRow": ".core.policy.access",
    "access_matrix": ".core.policy.access",
    "build_fragment": ".core.policy.build",
    "MergeError": ".core.policy.merge",
    "merge_policies": ".core.policy.merge",
    "InvalidConfig": ".core.problems",
    "Problem": ".core.problems",
    "ClusterAccessSpec": ".core.spec",
    "SecureClusterAccess": ".resources.cluster_access",
    "SecureClusterAccessArgs": ".resources.cluster_access",
    "TagsArgs": ".resources.cluster_access",
    "OperatorArgs": ".resources.cluster_access",
    "ProxyArgs": ".resources.cluster_access",
    "AccessRuleArgs": ".resources.cluster_access",
    "SessionRecordingArgs": ".resources.cluster_access",
    "PolicyArgs": ".resources.cluster_access",
    "OAuthArgs": ".resources.cluster_access",
    "WorkloadIdentityArgs": ".resources.cluster_access",
    "DeployerArgs": ".resources.cluster_access",
    "RoleBindingArgs": ".resources.role_bindings",
    "S3StorageArgs": ".resources.session_recorder",
    "TailnetPolicy": ".resources.tailnet_policy",
    "TailnetPolicyArgs": ".resources.tailnet_policy",
    "TailscaleOperator": ".resources.operator",
    "TailscaleOperatorArgs": ".resources.operator",
    "ApiServerProxy": ".resources.api_server_proxy",
    "ApiServerProxyArgs": ".resources.api_server_proxy",
    "SessionRecorder": ".resources.session_recorder",
    "SessionRecorderArgs": ".resources.session_recorder",
    "ClusterRoleBindings": ".resources.role_bindings",
    "ClusterRoleBindingsArgs": ".resources.role_bindings",
    "TailnetFleetPolicy": ".resources.fleet_policy",
    "TailnetFleetPolicyArgs": ".resources.fleet_policy",
}

if TYPE_CHECKING:
    from .core.cluster_plan import ClusterPlan, plan_cluster
    from .core.config import parse_spec
    from .core.policy.access import AccessRow, access_matrix
    from .core.policy.build import build_fragment
    from .core.policy.merge import MergeError, merge_policies
    from .core.problems import InvalidConfig, Problem
    from .core.spec import ClusterAccessSpec
    from .resources.api_server_proxy import ApiServerProxy, ApiServerProxyArgs
    from .resources.cluster_access import (
        AccessRuleArgs,
        DeployerArgs,
        OAuthArgs,
        OperatorArgs,
        PolicyArgs,
        ProxyArgs,
        SecureClusterAccess,
        SecureClusterAccessArgs,
        SessionRecordingArgs,
        TagsArgs,
        WorkloadIdentityArgs,
    )
    from .resources.fleet_policy import TailnetFleetPolicy, TailnetFleetPolicyArgs
    from .resources.operator import TailscaleOperator, TailscaleOperatorArgs
    from .resources.role_bindings import (
        ClusterRoleBindings,
        ClusterRoleBindingsArgs,
        RoleBindingArgs,
    )
    from .resources.session_recorder import S3StorageArgs, SessionRecorder, SessionRecorderArgs
    from .resources.tailnet_policy import TailnetPolicy, TailnetPolicyArgs


def __getattr__(name: str) -> Any:
    module_name = _PUBLIC.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module_name, __name__), name)


__all__ = [
    "AccessRow", "AccessRuleArgs", "ApiServerProxy", "ApiServerProxyArgs", "ClusterAccessSpec",
    "ClusterPlan", "ClusterRoleBindings", "ClusterRoleBindingsArgs", "DeployerArgs",
    "InvalidConfig",
    "MergeError", "OAuthArgs", "OperatorArgs", "PolicyArgs", "Problem", "ProxyArgs",
    "RoleBindingArgs", "S3StorageArgs", "SecureClusterAccess", "SecureClusterAccessArgs",
    "SessionRecorder", "SessionRecorderArgs", "SessionRecordingArgs", "TagsArgs",
    "TailnetFleetPolicy", "TailnetFleetPolicyArgs", "TailnetPolicy", "TailnetPolicyArgs",
    "TailscaleOperator", "TailscaleOperatorArgs", "access_matrix", "build_fragment",
    "WorkloadIdentityArgs", "merge_policies", "parse_spec", "plan_cluster",
]
