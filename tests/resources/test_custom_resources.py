"""ProxyGroup and Recorder specs, and the Helm values, against operator release v1.102.3.

The allowed fields, enums and patterns below are transcribed from the v1.102.3 CRDs
`tailscale.com_proxygroups.yaml` and `tailscale.com_recorders.yaml` (tailscale.com/v1alpha1)
and the chart's `values.yaml` (the default chart version). Differences from v1.92.4 are noted
where they matter: v1.102.3 adds `spec.tailnet` to both CRDs (immutable; this package never
sets it, so 1.88+ charts still accept what it writes), a Recorder `replicas` default of 1, and
the chart values `operatorConfig.annotations` (Deployment annotations) and
`operatorConfig.priorityClassName`, neither of which the package sets.
"""

import re
from collections.abc import Callable
from typing import Any

from tailscale_cluster_access.offline import ProgramRun

TAG_PATTERN = re.compile(r"^tag:[a-zA-Z][a-zA-Z0-9-]*$")
HOSTNAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# v1.102.3 ProxyGroup spec properties (v1.92.4: the same without `tailnet`).
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
# v1.102.3 Recorder spec properties (v1.92.4: the same without `tailnet`).
RECORDER_SPEC_FIELDS = {"enableUI", "replicas", "statefulSet", "storage", "tags", "tailnet"}
S3_FIELDS = {"bucket", "credentials", "endpoint"}
# Chart values v1.102.3 (values.yaml): the keys this package may set, by section.
CHART_VALUES = {
    "oauth": {"clientId", "clientSecret", "audience"},
    "operatorConfig": {"affinity", "annotations", "defaultTags", "extraEnv", "hostname", "image",
                       "logging", "nodeSelector", "podAnnotations", "podLabels",
                       "podSecurityContext", "priorityClassName", "resources",
                       "securityContext", "serviceAccountAnnotations", "tolerations"},
    "proxyConfig": {"defaultProxyClass", "defaultTags", "firewallMode", "image"},
    "apiServerProxyConfig": {"allowImpersonation", "mode"},
}
CHART_TOP_LEVEL = {"apiServerProxyConfig", "imagePullSecrets", "ingressClass", "installCRDs",
                   "loginServer", "oauth", "oauthSecretVolume", "operatorConfig", "proxyConfig"}
# Fields v1.102.3 added over v1.92.4: the package must not depend on them (1.88+ accepted).
NEW_SINCE_1_92_4 = {("operatorConfig", "annotations"), ("operatorConfig", "priorityClassName")}


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
        "pulumi.com/waitFor": "condition=ProxyGroupReady",
        # Replaces it with the release when the operator moves namespace.
        "tailscale-cluster-access/operator-namespace": "tailscale",
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


def check_chart_values(values: dict[str, Any]) -> None:
    assert set(values) <= CHART_TOP_LEVEL
    for section, allowed in CHART_VALUES.items():
        assert set(values.get(section, {})) <= allowed, section
        for key in values.get(section, {}):
            assert (section, key) not in NEW_SINCE_1_92_4
    # v1.102.3: oauth.audience is "mutually exclusive with oauth.clientSecret".
    assert not ("audience" in values.get("oauth", {}) and "clientSecret" in values.get("oauth", {}))


def test_chart_values_are_the_chart_s(run_stack: Callable[..., ProgramRun]) -> None:
    for stack in ("dev", "staging", "prod"):
        release = run_stack(stack).one("kubernetes:helm.sh/v3:Release").inputs
        assert release["version"] == "1.102.3"
        check_chart_values(release["values"])
