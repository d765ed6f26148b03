"""The lockdown settings and the docs/lockdown.md snippets against the cloud SDKs' own classes.

The SDKs are not dependencies of the package: each test skips without its SDK. Checked here
with pulumi-aws 7.51.1, pulumi-gcp 10.2.0 and pulumi-azure-native 3.29.0, installed beside the
virtualenv (`pip install --no-deps --target DIR ...`, then `PYTHONPATH=DIR`).
"""

import ast
import importlib
import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest
from tailscale_cluster_access.core.lockdown import SETTINGS

DOC = Path(__file__).resolve().parents[2] / "docs" / "lockdown.md"
# cloud -> (SDK module, the module of its cluster resource, the cluster resource's name)
CLOUDS = {
    "eks": ("pulumi_aws", "pulumi_aws.eks", "Cluster"),
    "gke": ("pulumi_gcp", "pulumi_gcp.container", "Cluster"),
    "aks": ("pulumi_azure_native", "pulumi_azure_native.containerservice", "ManagedCluster"),
}


def parameters(cls: type) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters) - {"self", "__self__"}


def snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_every_snippet_is_python() -> None:
    found = snippets()
    assert len(found) == 4
    for snippet in found:
        compile(snippet, str(DOC), "exec")


def sdk(cloud: str) -> ModuleType:
    package, module, _ = CLOUDS[cloud]
    pytest.importorskip(package)
    return importlib.import_module(module)


def args_class(module: ModuleType, prefix: str, path: list[str]) -> type:
    """`ClusterArgs`, then e.g. `ClusterVpcConfigArgs` for `vpc_config`, as the SDKs name
    nested input types (azure-native: `<Resource><Field>Args` or the type's own name)."""
    cls: type = getattr(module, f"{prefix}Args")
    name = prefix
    for field in path:
        assert field in parameters(cls), f"{cls.__name__} has no {field}"
        name += "".join(part.title() for part in field.split("_"))
        nested = getattr(module, f"{name}Args", None)
        if nested is None:
            break
        cls = nested
    return cls


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_lockdown_settings_name_real_fields(cloud: str) -> None:
    module = sdk(cloud)
    resource = CLOUDS[cloud][2]
    assert SETTINGS[cloud]["resource"].endswith(f".{resource}")
    for setting in SETTINGS[cloud]["set"]:
        *parents, leaf = setting.split(".")
        if cloud == "aks" and parents == ["api_server_access_profile"]:
            holder = module.ManagedClusterAPIServerAccessProfileArgs
        else:
            holder = args_class(module, resource, parents)
        assert leaf in parameters(holder), f"{cloud}: {setting}"


def calls(snippet: str) -> list[ast.Call]:
    return [node for node in ast.walk(ast.parse(snippet)) if isinstance(node, ast.Call)]


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_snippet_arguments_exist_in_the_sdk(cloud: str) -> None:
    module = sdk(cloud)
    resource = CLOUDS[cloud][2]
    (snippet,) = [s for s in snippets() if f"import {CLOUDS[cloud][0]}" in s
                  or f"from {CLOUDS[cloud][0]} import" in s]
    checked = 0
    for call in calls(snippet):
        if not isinstance(call.func, ast.Attribute):
            continue
        name = call.func.attr
        target = getattr(module, f"{name}Args" if name == resource else name, None)
        if target is None or not inspect.isclass(target):
            continue
        keywords = {keyword.arg for keyword in call.keywords}
        assert keywords <= parameters(target), (name, keywords - parameters(target))
        checked += 1
    assert checked >= 2
