"""Module paths of release 0.1.0 that moved when the package was split into layers.

`import tailscale_cluster_access.cluster_access` (and every other 0.1.0 path) still works:
the old name is an alias of the module at its new place, not a copy.
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

_PACKAGE = __name__.rpartition(".")[0]

# Old top-level module or package -> where it lives now.
MOVED = {
    "spec": "core.spec",
    "problems": "core.problems",
    "cluster_plan": "core.cluster_plan",
    "validation": "core.config",
    "fleet": "core.fleet",
    "tailscale_api": "core.tailscale_api",
    "policy": "core.policy",
    "cluster_access": "resources.cluster_access",
    "operator": "resources.operator",
    "api_server_proxy": "resources.api_server_proxy",
    "session_recorder": "resources.session_recorder",
    "role_bindings": "resources.role_bindings",
    "tailnet_policy": "resources.tailnet_policy",
    "fleet_policy": "resources.fleet_policy",
    "kube": "resources.kube",
    "errors": "resources.errors",
    "secrets": "resources.secrets",
    "stack_config": "resources.stack_config",
    "preview_check": "resources.preview_check",
    "fleet_offline": "offline.fleet_runner",
    "report": "offline.report",
    "cli": "offline.cli",
}


def new_location(fullname: str) -> str | None:
    """`tailscale_cluster_access.policy.merge` -> `tailscale_cluster_access.core.policy.merge`."""
    prefix = _PACKAGE + "."
    if not fullname.startswith(prefix):
        return None
    head, dot, rest = fullname[len(prefix):].partition(".")
    target = MOVED.get(head)
    if target is None:
        return None
    return f"{prefix}{target}{dot}{rest}"


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if new_location(fullname) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        location = new_location(spec.name)
        assert location is not None
        return importlib.import_module(location)

    def exec_module(self, module: ModuleType) -> None:
        # The module was executed under its new name already.
        pass


def install() -> None:
    if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
        # First: a moved package's __path__ would otherwise let the path finder load a second
        # copy of its modules under the old name.
        sys.meta_path.insert(0, _AliasFinder())
