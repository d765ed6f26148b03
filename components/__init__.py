"""tailscale-cluster-access: kubectl through the tailnet, as Pulumi components.

Public API: the components with their `...Args` TypedDicts, and the pure policy
functions (`plan_cluster`, `parse_spec`, `build_fragment`, `merge_policies`,
`access_matrix`). Module-level names not listed in `__all__` are private.

Components are imported lazily so that the pure functions (and the `plan` CLI's
validation) do not pay for importing the Pulumi providers.
"""

from typing import TYPE_CHECKING, Any

from .cluster_plan import ClusterPlan, plan_cluster
from .policy.access import AccessRow, access_matrix
from .policy.build import build_fragment
from .policy.merge import MergeError, merge_policies
from .problems import InvalidConfig, Problem
from .spec import ClusterAccessSpec
from .validation import parse_spec

__version__ = "0.1.0"

_COMPONENTS = {
    "SecureClusterAccess": ".cluster_access",
    "SecureClusterAccessArgs": ".cluster_access",
    "TagsArgs": ".cluster_access",
    "OperatorArgs": ".cluster_access",
    "ProxyArgs": ".cluster_access",
    "AccessRuleArgs": ".cluster_access",
    "SessionRecordingArgs": ".cluster_access",
    "PolicyArgs": ".cluster_access",
    "OAuthArgs": ".cluster_access",
    "RoleBindingArgs": ".role_bindings",
    "S3StorageArgs": ".session_recorder",
    "TailnetPolicy": ".tailnet_policy",
    "TailnetPolicyArgs": ".tailnet_policy",
    "TailscaleOperator": ".operator",
    "TailscaleOperatorArgs": ".operator",
    "ApiServerProxy": ".api_server_proxy",
    "ApiServerProxyArgs": ".api_server_proxy",
    "SessionRecorder": ".session_recorder",
    "SessionRecorderArgs": ".session_recorder",
    "ClusterRoleBindings": ".role_bindings",
    "ClusterRoleBindingsArgs": ".role_bindings",
    "TailnetFleetPolicy": ".fleet_policy",
    "TailnetFleetPolicyArgs": ".fleet_policy",
}

if TYPE_CHECKING:
    from .api_server_proxy import ApiServerProxy, ApiServerProxyArgs
    from .cluster_access import (
        AccessRuleArgs,
        OAuthArgs,
        OperatorArgs,
        PolicyArgs,
        ProxyArgs,
        SecureClusterAccess,
        SecureClusterAccessArgs,
        SessionRecordingArgs,
        TagsArgs,
    )
    from .fleet_policy import TailnetFleetPolicy, TailnetFleetPolicyArgs
    from .operator import TailscaleOperator, TailscaleOperatorArgs
    from .role_bindings import ClusterRoleBindings, ClusterRoleBindingsArgs, RoleBindingArgs
    from .session_recorder import S3StorageArgs, SessionRecorder, SessionRecorderArgs
    from .tailnet_policy import TailnetPolicy, TailnetPolicyArgs


def __getattr__(name: str) -> Any:
    module_name = _COMPONENTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module_name, __name__), name)


__all__ = [
    "AccessRow", "AccessRuleArgs", "ApiServerProxy", "ApiServerProxyArgs", "ClusterAccessSpec",
    "ClusterPlan", "ClusterRoleBindings", "ClusterRoleBindingsArgs", "InvalidConfig",
    "MergeError", "OAuthArgs", "OperatorArgs", "PolicyArgs", "Problem", "ProxyArgs",
    "RoleBindingArgs", "S3StorageArgs", "SecureClusterAccess", "SecureClusterAccessArgs",
    "SessionRecorder", "SessionRecorderArgs", "SessionRecordingArgs", "TagsArgs",
    "TailnetFleetPolicy", "TailnetFleetPolicyArgs", "TailnetPolicy", "TailnetPolicyArgs",
    "TailscaleOperator", "TailscaleOperatorArgs", "access_matrix", "build_fragment",
    "merge_policies", "parse_spec", "plan_cluster",
]
