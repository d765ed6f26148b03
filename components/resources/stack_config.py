"""Read this project's stack configuration from the Pulumi runtime."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime.config as runtime_config

from ..core.cluster_plan import ClusterPlan, plan_cluster
from ..core.config import SECRET_FIELDS, SECRET_VALUE_PATHS, namespace_config, snake_key_path
from ..core.problems import InvalidConfig
from .secrets import as_secret


def raw_stack_config(namespace: str) -> dict[str, Any]:
    """Every `<namespace>:<key>` the engine passed, decoded like `Config.get_object`."""
    values: dict[str, Any] = dict(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    return namespace_config(values, namespace)


def config_to_args(config: Mapping[str, Any]) -> dict[str, Any]:
    """camelCase config -> snake_case component args; secret fields become Pulumi secrets."""

    def convert(value: Any, path: str, verbatim: bool) -> Any:
        if isinstance(value, Mapping) and path not in SECRET_VALUE_PATHS:
            return {
                (key if verbatim else snake_key_path(key)): convert(
                    item,
                    f"{path}.{key}" if path else key,
                    key in ("groups", "postures") and not path,
                )
                for key, item in value.items()
            }
        if path in SECRET_VALUE_PATHS:
            return as_secret(value)
        if isinstance(value, list):
            return [convert(item, path + "[]", False) for item in value]
        return value

    converted = convert(dict(config), "", False)
    assert isinstance(converted, dict)
    return converted


def load_stack(
    project_root: Path, namespace: str = "tailscale-cluster-access"
) -> tuple[ClusterPlan, dict[str, Any]]:
    """Validate the stack's config (errors name config keys, without a traceback) and return
    the plan plus the component args built from it."""
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
    return plan, config_to_args(config)


def _has_path(value: Any, keys: list[str]) -> bool:
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return False
        value = value[key]
    return True
