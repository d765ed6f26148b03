"""Read this project's stack configuration from the Pulumi runtime."""

import dataclasses
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


def load_stack(project_root: Path, namespace: str = "tailscale-cluster-access") -> ClusterPlan:
    """Read and plan the stack's config, once (errors name config keys, without a traceback).

    The plan goes to `SecureClusterAccess.from_plan`; its secret values are wrapped as Pulumi
    secrets there, and its warnings logged."""
    config = raw_stack_config(namespace)
    try:
        plan = plan_cluster(
            config,
            project_root,
            prefix=f"{namespace}:",
            subject=f"configuration of stack '{pulumi.get_stack()}'",
        )
    except InvalidConfig as error:
        raise pulumi.RunError(error.render()) from None
    plaintext = [
        f"{namespace}:{path} is stored in plain text in the stack file; set it with "
        f"`pulumi config set --secret --path {path}`. It is still handled as a secret here."
        for path in sorted(SECRET_FIELDS)
        if _has_path(config.get(path.split(".")[0]), path.split(".")[1:])
        and not runtime_config.is_config_secret(f"{namespace}:{path.split('.')[0]}")
    ]
    return dataclasses.replace(plan, warnings=[*plan.warnings, *plaintext]) if plaintext else plan


def _has_path(value: Any, keys: list[str]) -> bool:
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return False
        value = value[key]
    return True
