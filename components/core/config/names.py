"""Key spellings: the engine's `<namespace>:<key>` config, camelCase paths, snake_case."""

import json
import re
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from ..spec import ClusterAccessSpec
from .reader import namespaced_string_keys

# Keys whose value is a plain string even when it looks like JSON (`cluster: "123"`).
STRING_KEYS = namespaced_string_keys(ClusterAccessSpec)


def namespace_config(values: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """The `<namespace>:<key>` entries as the program sees them: objects decoded from the JSON
    strings the engine passes, like `Config.get_object`."""
    prefix = f"{namespace}:"
    raw: dict[str, Any] = {}
    for full_key, value in values.items():
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix) :]
        if isinstance(value, str) and key not in STRING_KEYS:
            with suppress(ValueError):
                value = json.loads(value)
        raw[key] = value
    return raw


def snake_key_path(path: str) -> str:
    """`access[0].kubernetesGroups` -> `access[0].kubernetes_groups`, for Python callers."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m[1].lower(), path)
