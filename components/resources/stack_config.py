"""Read this project's stack configuration from the Pulumi runtime."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime.config as runtime_config

from ..core.cluster_plan import ClusterPlan, plan_cluster
from ..core.config import SECRET_FIELDS, namespace_config
from ..core.problems import InvalidConfig


def raw_stack_config(namespace: str) -> dict[str, Any]:
    """Every `<namespace>:<key>` the engine passed, decoded like `Config.get_object`."""
    values: dict[str, Any] = dict(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    return namespace_config(values, namespace)


# A plan of exactly this config, made before the program ran (the offline CLI validates the
# stack file first, for exit code 2): reused, so that a plan run plans the config once.
_made_before: list[tuple[dict[str, Any], Path, ClusterPlan]] = []


def reuse_plan(config: Mapping[str, Any], project_root: Path, plan: ClusterPlan) -> None:
    """Let the next `load_stack` of this very config and project take `plan` as it is."""
    _made_before[:] = [(dict(config), project_root.resolve(), plan)]


def _plan_made_before(config: Mapping[str, Any], project_root: Path) -> ClusterPlan | None:
    if not _made_before:
        return None
    made_of, root, plan = _made_before.pop()
    return plan if made_of == config and root == project_root.resolve() else None


def load_stack(project_root: Path, namespace: str = "tailscale-cluster-access") -> ClusterPlan:
    """Read and plan the stack's config, once (errors name config keys, without a traceback).

    The plan goes to `SecureClusterAccess.from_plan`; its secret values are wrapped as Pulumi
    secrets there."""
    config = raw_stack_config(namespace)
    plan = _plan_made_before(config, project_root)
    try:
        plan = plan or plan_cluster(
            config,
            project_root,
            prefix=f"{namespace}:",
            subject=f"configuration of stack '{pulumi.get_stack()}'",
        )
    except InvalidConfig as error:
        raise pulumi.RunError(error.render()) from None
    for path in sorted(SECRET_FIELDS):
        top, *rest = path.split(".")
        if _has_path(config.get(top), rest) and not runtime_config.is_config_secret(
            f"{namespace}:{top}"
        ):
            pulumi.log.warn(
                f"{namespace}:{path} is stored in plain text in the stack file; set it with "
                f"`pulumi config set --secret --path {path}`. It is still handled as a secret "
                "here."
            )
    return plan


def _has_path(value: Any, keys: list[str]) -> bool:
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return False
        value = value[key]
    return True
