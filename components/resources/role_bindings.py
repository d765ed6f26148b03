"""ClusterRoleBindings: give the Kubernetes groups that grants impersonate their ClusterRoles."""

from typing import TypedDict

import pulumi
from pulumi_kubernetes.meta import v1 as meta
from pulumi_kubernetes.rbac import v1 as rbac

from ..core.parts import RoleBindingSet
from .errors import read_args
from .kube import child_options

RBAC_API_GROUP = "rbac.authorization.k8s.io"
MANAGED_BY = {"app.kubernetes.io/managed-by": "tailscale-cluster-access"}


class RoleBindingArgs(TypedDict):
    group: str
    """Kubernetes group, as impersonated by an access rule (e.g. `tailnet-readers`)."""
    cluster_role: str
    """ClusterRole to bind it to (e.g. `view`)."""


class ClusterRoleBindingsArgs(TypedDict):
    bindings: list[RoleBindingArgs]
    """One ClusterRoleBinding per (group, ClusterRole) pair."""


class ClusterRoleBindings(pulumi.ComponentResource):
    """The guide's `kubectl create clusterrolebinding tailnet-readers-view ...`, per binding."""

    names: pulumi.Output[list[str]]
    """Names of the ClusterRoleBindings, e.g. `tailnet-readers-view`."""

    def __init__(self, name: str, args: ClusterRoleBindingsArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        bindings, _ = read_args(RoleBindingSet, args, "ClusterRoleBindings")
        self._create(name, bindings, opts)

    @classmethod
    def from_spec(cls, name: str, bindings: RoleBindingSet,
                  opts: pulumi.ResourceOptions | None = None) -> "ClusterRoleBindings":
        """The component for bindings already validated (SecureClusterAccess's plan)."""
        component = cls.__new__(cls)
        component._create(name, bindings, opts)
        return component

    def _create(self, name: str, args: RoleBindingSet,
                opts: pulumi.ResourceOptions | None) -> None:
        super().__init__("tailscale-cluster-access:index:ClusterRoleBindings", name, None, opts)
        names: list[str] = []
        for binding in args.bindings:
            rbac.ClusterRoleBinding(
                f"{name}-{binding.name}",
                metadata=meta.ObjectMetaArgs(name=binding.name, labels=MANAGED_BY),
                subjects=[rbac.SubjectArgs(kind="Group", name=binding.group,
                                           api_group=RBAC_API_GROUP)],
                role_ref=rbac.RoleRefArgs(kind="ClusterRole", name=binding.cluster_role,
                                          api_group=RBAC_API_GROUP),
                opts=child_options(self, opts),
            )
            names.append(binding.name)
        self.names = pulumi.Output.from_input(names)
        self.register_outputs({"names": self.names})
