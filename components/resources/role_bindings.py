"""ClusterRoleBindings: give the Kubernetes groups that grants impersonate their ClusterRoles."""

from dataclasses import replace
from typing import TypedDict

import pulumi
from pulumi_kubernetes.rbac import v1 as rbac

from ..core.config import check_role_bindings, snake_key_path
from ..core.spec import RoleBinding
from .errors import raise_for_problems
from .kube import child_options

RBAC_API_GROUP = "rbac.authorization.k8s.io"


class RoleBindingArgs(TypedDict):
    group: str
    """Kubernetes group, as impersonated by a grant (e.g. `tailnet-readers`)."""
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
        raw_bindings = [{"group": item.get("group"), "clusterRole": item.get("cluster_role")}
                        for item in args["bindings"]]
        raise_for_problems(
            [replace(p, key=snake_key_path(p.key).replace("role_bindings", "bindings", 1))
             for p in check_role_bindings(raw_bindings)],
            "ClusterRoleBindings")
        super().__init__("tailscale-cluster-access:index:ClusterRoleBindings", name, None, opts)
        names: list[str] = []
        for item in args["bindings"]:
            binding = RoleBinding(group=item["group"], cluster_role=item["cluster_role"])
            rbac.ClusterRoleBinding(  # type: ignore[call-overload]
                f"{name}-{binding.name}",
                metadata={"name": binding.name,
                          "labels": {"app.kubernetes.io/managed-by": "tailscale-cluster-access"}},
                subjects=[{"kind": "Group", "name": binding.group, "apiGroup": RBAC_API_GROUP}],
                role_ref={"kind": "ClusterRole", "name": binding.cluster_role,
                          "apiGroup": RBAC_API_GROUP},
                opts=child_options(self, opts),
            )
            names.append(binding.name)
        self.names = pulumi.Output.from_input(names)
        self.register_outputs({"names": self.names})
