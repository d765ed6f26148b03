"""The Python library's public surface: what `import tailscale_cluster_access` offers, what
it costs, and that a regular (non-editable) install ships every module."""

import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys
import tomllib
import typing
from pathlib import Path

import pytest
import tailscale_cluster_access as package

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "components"
PURE_FUNCTIONS = {"plan_cluster", "parse_spec", "build_fragment", "merge_policies",
                  "access_matrix"}
PROVIDER_SDKS = ("pulumi_kubernetes", "pulumi_tailscale")


def pyproject() -> dict[str, typing.Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def all_modules() -> list[str]:
    return [info.name for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
            if not info.name.endswith(".__main__")]


def component_classes() -> dict[str, type]:
    """Every ComponentResource subclass the package's modules define."""
    import pulumi

    found: dict[str, type] = {}
    for name in all_modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (inspect.isclass(value) and issubclass(value, pulumi.ComponentResource)
                    and value.__module__ == name):
                found[value.__name__] = value
    return found


def test_every_public_name_resolves() -> None:
    assert len(package.__all__) == len(set(package.__all__))
    missing = [name for name in package.__all__ if not hasattr(package, name)]
    assert missing == []


def test_all_lists_every_public_name_the_package_binds() -> None:
    """Names the package defines and binds at top level are either in `__all__` or
    underscored; submodules and typing helpers are not API."""
    bound = {name for name, value in vars(package).items()
             if not name.startswith("_") and not inspect.ismodule(value)
             and getattr(value, "__module__", "").startswith(package.__name__)}
    assert bound - set(package.__all__) == set()


def test_every_component_is_public_with_its_args() -> None:
    components = component_classes()
    assert set(components) <= set(package.__all__)
    for name, component in components.items():
        args = inspect.signature(component).parameters["args"].annotation
        assert typing.is_typeddict(args), name
        assert f"{name}Args" in package.__all__
        assert getattr(package, f"{name}Args") is args
        assert getattr(package, name) is component


def test_pure_policy_functions_are_public() -> None:
    assert set(package.__all__) >= PURE_FUNCTIONS
    for name in PURE_FUNCTIONS:
        assert inspect.isfunction(getattr(package, name)), name


def run_python(code: str) -> dict[str, typing.Any]:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    value = json.loads(result.stdout.strip().splitlines()[-1])
    assert isinstance(value, dict)
    return value


def test_import_does_not_load_pulumi_until_a_component_is_used() -> None:
    loaded = run_python(
        "import json, pathlib, sys\n"
        "def loaded():\n"
        "    return sorted({m.split('.')[0] for m in sys.modules} & {'pulumi', "
        f"{', '.join(repr(sdk) for sdk in PROVIDER_SDKS)}}})\n"
        "import tailscale_cluster_access as t\n"
        "after_import = loaded()\n"
        "plan = t.plan_cluster({'cluster': 'gpu-x',\n"
        "    'groups': {'group:ml-engineers': ['alice@example.com'],\n"
        "               'group:ml-readers': ['bob@example.com']},\n"
        "    'policy': {'manage': False}}, pathlib.Path('.'))\n"
        "after_plan = loaded()\n"
        "t.SecureClusterAccess\n"
        "print(json.dumps({'import': after_import, 'plan': after_plan, 'component': loaded(),\n"
        "                  'cluster': plan.spec.cluster}))\n")
    # The pure core (validation, policy building) needs no Pulumi at all.
    assert loaded["import"] == []
    assert loaded["plan"] == []
    assert loaded["cluster"] == "gpu-x"
    assert set(loaded["component"]) >= {"pulumi", *PROVIDER_SDKS}


def test_unknown_names_raise_attribute_error() -> None:
    name = "NoSuchComponent"
    with pytest.raises(AttributeError, match=name):
        getattr(package, name)


# --- packaging --------------------------------------------------------------------------


def test_import_name_maps_to_the_source_folder() -> None:
    setuptools = pyproject()["tool"]["setuptools"]
    assert setuptools["package-dir"] == {package.__name__: "components"}
    assert Path(package.__file__).resolve().parent == SOURCE


def test_regular_install_ships_every_subpackage() -> None:
    """setuptools installs exactly the listed packages; a subpackage missing from the list
    works in the editable dev install and is absent from `pip install <repo>`."""
    on_disk = {package.__name__ + "".join(f".{part}" for part in
                                          folder.relative_to(SOURCE).parts)
               for folder in [SOURCE, *SOURCE.rglob("*")]
               if folder.is_dir() and (folder / "__init__.py").exists()}
    listed = set(pyproject()["tool"]["setuptools"]["packages"])
    assert listed == on_disk
    assert "py.typed" in pyproject()["tool"]["setuptools"]["package-data"][package.__name__]
    assert (SOURCE / "py.typed").exists()


def test_versions_agree() -> None:
    version = pyproject()["project"]["version"]
    assert package.__version__ == version
    changelog = (ROOT / "CHANGELOG.md").read_text()
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.M)
    assert released and released[0] == version
