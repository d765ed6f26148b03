"""The layers stay apart: the pure core imports no Pulumi module."""

import importlib.util
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import tailscale_cluster_access
import tailscale_cluster_access.core as core

PACKAGE_DIR = Path(tailscale_cluster_access.__file__).parent


def core_modules() -> list[str]:
    return sorted(info.name for info in pkgutil.walk_packages(core.__path__, core.__name__ + "."))


def test_the_pure_core_imports_no_pulumi_module() -> None:
    modules = core_modules()
    assert len(modules) > 20
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0].startswith('pulumi')"
        " or m.startswith('google.protobuf') or m.startswith('grpc'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert json.loads(result.stdout) == []


def test_no_module_of_the_package_is_over_500_lines() -> None:
    long = {str(path.relative_to(PACKAGE_DIR)): count
            for path in PACKAGE_DIR.rglob("*.py")
            if (count := len(path.read_text().splitlines())) > 500}
    assert long == {}


def test_the_runner_names_are_importable_from_offline() -> None:
    from tailscale_cluster_access.offline import ProgramRun, RecordingMonitor, run_program

    assert callable(run_program) and ProgramRun and RecordingMonitor


def test_each_layer_has_its_folder() -> None:
    folders = {p.name for p in PACKAGE_DIR.iterdir() if (p / "__init__.py").is_file()}
    assert folders == {"core", "resources", "offline"}


def test_no_module_path_of_the_unreleased_layout_resolves() -> None:
    # 0.1.0 was never released: its flat module paths are not API and must not linger.
    for old in ("cluster_access", "policy", "session_recorder", "cli", "_moved"):
        assert importlib.util.find_spec(f"tailscale_cluster_access.{old}") is None
