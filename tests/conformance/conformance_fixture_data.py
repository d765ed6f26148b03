"""Shared data and fixtures of the conformance tests: fixture chart, prod-like plan.

Imported by the test modules (no conftest.py here: the suite's tests import the
top-level tests/conftest.py as `conftest`, which a second one would shadow). It puts the
project root on sys.path for `import conformance`, so it is imported first.
"""

import copy
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from conformance.checks import Release, StackPlan  # noqa: E402
from conformance.helm import cached_helm  # noqa: E402

FIXTURES = ROOT / "conformance" / "fixtures"
MINI_CHART = FIXTURES / "tailscale-operator-mini"
CRD_DIR = MINI_CHART / "files"

# The values the prod stack gives the chart (build/plan/prod/resources.json).
PROD_VALUES: dict[str, Any] = {
    "apiServerProxyConfig": {"allowImpersonation": "true", "mode": "false"},
    "installCRDs": True,
    "oauthSecretVolume": {"secret": {"secretName": "operator-oauth"}},
    "operatorConfig": {"defaultTags": ["tag:k8s-operator"], "hostname": "tailscale-operator"},
    "proxyConfig": {"defaultTags": "tag:k8s"},
}
PROD_MANIFESTS: list[dict[str, Any]] = yaml.safe_load("""
- apiVersion: v1
  kind: Secret
  metadata: {name: operator-oauth, namespace: tailscale}
  stringData: '[secret]'
  type: Opaque
- apiVersion: tailscale.com/v1alpha1
  kind: ProxyGroup
  metadata: {name: gpu-prod}
  spec:
    kubeAPIServer: {hostname: gpu-prod, mode: auth}
    replicas: 2
    tags: ['tag:k8s']
    type: kube-apiserver
- apiVersion: tailscale.com/v1alpha1
  kind: Recorder
  metadata: {name: recorder}
  spec:
    enableUI: false
    replicas: 2
    statefulSet:
      pod:
        serviceAccount:
          annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/x'}
    storage:
      s3: {bucket: gpu-prod-kubectl-recordings, endpoint: s3.us-east-1.amazonaws.com}
    tags: ['tag:tsrecorder']
""")


def release(values: dict[str, Any] | None = None) -> Release:
    return Release(name="tailscale-operator", namespace="tailscale", chart="tailscale-operator",
                   version="1.92.4", repository="https://pkgs.tailscale.com/helmcharts",
                   values=copy.deepcopy(PROD_VALUES if values is None else values))


def stack_plan(manifests: list[dict[str, Any]] | None = None,
               values: dict[str, Any] | None = None) -> StackPlan:
    return StackPlan(stack="prod", releases=[release(values)],
                     manifests=copy.deepcopy(PROD_MANIFESTS if manifests is None else manifests))


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]


def rendered_prod() -> list[dict[str, Any]]:
    """The fixture chart as helm rendered it with PROD_VALUES (committed; no helm needed)."""
    return load_docs(FIXTURES / "rendered" / "prod.yaml")


def fixture_crds() -> list[dict[str, Any]]:
    return load_docs(CRD_DIR / "proxygroups.yaml") + load_docs(CRD_DIR / "recorders.yaml")


def helm_at_hand() -> Path:
    """A helm already at hand ($HELM, PATH or build/tools); never fetched from a test."""
    found = cached_helm(ROOT / "build" / "tools")
    if found is None:
        pytest.skip("no helm on PATH or in build/tools (run `make conformance` once to cache it)")
    return found
