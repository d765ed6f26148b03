"""ProxyGroup and Recorder specs against their CRDs (tailscale.com/v1alpha1, operator de9ec7ee).

The allowed fields, enums and patterns below are transcribed from the CRDs
`tailscale.com_proxygroups.yaml` and `tailscale.com_recorders.yaml`.
"""

import re
from collections.abc import Callable
from typing import Any

from tailscale_cluster_access.offline import ProgramRun

TAG_PATTERN = re.compile(r"^tag:[a-zA-Z][a-zA-Z0-9-]*$")
HOSTNAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
PROXY_GROUP_SPEC_FIELDS = {
    "hostnamePrefix",
    "kubeAPIServer",
    "proxyClass",
    "replicas",
    "tags",
    "tailnet",
    "type",
}
KUBE_API_SERVER_FIELDS = {"hostname", "mode"}
RECORDER_SPEC_FIELDS = {"enableUI", "replicas", "statefulSet", "storage", "tags", "tailnet"}
S3_FIELDS = {"bucket", "credentials", "endpoint"}


def check_proxy_group(spec: dict[str, Any]) -> None:
    assert set(spec) <= PROXY_GROUP_SPEC_FIELDS
    assert spec["type"] in {"egress", "ingress", "kube-apiserver"}
    assert isinstance(spec["replicas"], int) and spec["replicas"] >= 0
    assert all(TAG_PATTERN.match(tag) for tag in spec["tags"])
    assert set(spec["kubeAPIServer"]) <= KUBE_API_SERVER_FIELDS
    assert spec["kubeAPIServer"]["mode"] in {"auth", "noauth"}
    assert HOSTNAME_PATTERN.match(spec["kubeAPIServer"]["hostname"])


def check_recorder(spec: dict[str, Any]) -> None:
    assert set(spec) <= RECORDER_SPEC_FIELDS
    assert all(TAG_PATTERN.match(tag) for tag in spec["tags"])
    assert isinstance(spec["replicas"], int) and spec["replicas"] >= 0
    # CEL rule: S3 storage must be used when deploying multiple Recorder replicas.
    assert not (spec["replicas"] > 1 and "s3" not in spec.get("storage", {}))
    if "storage" in spec:
        assert set(spec["storage"]) == {"s3"}
        assert set(spec["storage"]["s3"]) <= S3_FIELDS
    else:
        # Without S3 the UI is the only way to reach recordings.
        assert spec["enableUI"] is True


def test_staging_proxy_group(run_stack: Callable[..., ProgramRun]) -> None:
    proxy_group = run_stack("staging").one("kubernetes:tailscale.com/v1alpha1:ProxyGroup").inputs
    assert proxy_group["apiVersion"] == "tailscale.com/v1alpha1"
    assert proxy_group["kind"] == "ProxyGroup"
    assert proxy_group["metadata"]["name"] == "gpu-staging"
    assert proxy_group["metadata"]["annotations"] == {
        "pulumi.com/waitFor": "condition=ProxyGroupReady"
    }
    spec = proxy_group["spec"]
    check_proxy_group(spec)
    assert spec == {
        "type": "kube-apiserver",
        "replicas": 2,
        "tags": ["tag:k8s-apiserver"],
        "kubeAPIServer": {"mode": "auth", "hostname": "gpu-staging"},
    }


def test_proxy_group_settings(run_stack: Callable[..., ProgramRun]) -> None:
    run = run_stack(
        "staging",
        {
            "proxy": {"highAvailability": True, "replicas": 3, "hostname": "ai-cluster"},
            "tags": {"proxyGroup": "tag:gpu-cluster"},
        },
    )
    spec = run.one("kubernetes:tailscale.com/v1alpha1:ProxyGroup").inputs["spec"]
    check_proxy_group(spec)
    assert spec["replicas"] == 3
    assert spec["tags"] == ["tag:gpu-cluster"]
    assert spec["kubeAPIServer"]["hostname"] == "ai-cluster"


def test_prod_recorder(run_stack: Callable[..., ProgramRun]) -> None:
    recorder = run_stack("prod").one("kubernetes:tailscale.com/v1alpha1:Recorder").inputs
    spec = recorder["spec"]
    check_recorder(spec)
    assert spec == {
        "tags": ["tag:tsrecorder"],
        "replicas": 2,
        "enableUI": False,
        "storage": {
            "s3": {
                "endpoint": "s3.us-east-1.amazonaws.com",
                "bucket": "gpu-prod-kubectl-recordings",
            }
        },
        "statefulSet": {
            "pod": {
                "serviceAccount": {
                    "annotations": {
                        "eks.amazonaws.com/role-arn": (
                            "arn:aws:iam::123456789012:role/gpu-prod-tsrecorder"
                        )
                    }
                }
            }
        },
    }


def test_ephemeral_recorder_enables_the_ui(run_stack: Callable[..., ProgramRun]) -> None:
    run = run_stack("prod", {"sessionRecording": {"enabled": True}})
    spec = run.one("kubernetes:tailscale.com/v1alpha1:Recorder").inputs["spec"]
    check_recorder(spec)
    assert spec == {"tags": ["tag:tsrecorder"], "replicas": 1, "enableUI": True}
