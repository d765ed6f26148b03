"""Secrets stay Pulumi secrets wherever they flow (checked with `Output.is_secret()`)."""

from pathlib import Path
from typing import Any

import pulumi
import pytest
from tailscale_cluster_access import SecureClusterAccess, TailscaleOperator, plan_cluster
from tailscale_cluster_access.offline import PreviewMocks, RecordingMonitor, Secret
from tailscale_cluster_access.resources.secrets import as_secret

OPERATOR: dict[str, Any] = {
    "namespace": "tailscale", "chart_version": "1.92.4", "hostname": "tailscale-operator",
    "operator_tag": "tag:k8s-operator", "proxy_tag": "tag:k8s", "api_server_proxy_mode": "true",
    "allow_impersonation": False,
}


@pytest.fixture(autouse=True)
def monitor() -> RecordingMonitor:
    recording = RecordingMonitor(PreviewMocks())
    pulumi.runtime.set_mocks(recording.mocks, project="p", stack="s", preview=False,
                             monitor=recording)
    return recording


def test_config_secrets_become_secret_outputs(monitor: RecordingMonitor) -> None:
    """Secrets read from stack config reach the component through the plan and are sent
    as secrets: the OAuth client secret and both S3 keys."""
    plan = plan_cluster({
        "cluster": "gpu",
        "policy": {"manage": False},
        "oauth": {"clientId": "kCNTRL", "clientSecret": "tskey-client-plain"},
        "access": [{"src": ["group:ml-engineers"], "kubernetesGroups": ["system:masters"],
                    "recordSessions": True}],
        "sessionRecording": {"enabled": True,
                             "s3": {"endpoint": "e", "bucket": "b", "accessKeyId": "AKIA",
                                    "secretAccessKey": "plain-s3"}},
    }, Path.cwd())
    assert plan.spec.oauth.client_id == "kCNTRL"

    @pulumi.runtime.test
    def construct() -> Any:
        cluster = SecureClusterAccess.from_plan("gpu", plan)

        async def check() -> None:
            assert await cluster.operator.oauth_secret.string_data.is_secret()

        return pulumi.Output.from_input(check())

    construct()
    secrets = [r for r in monitor.registrations if r.type == "kubernetes:core/v1:Secret"]
    assert len(secrets) == 2
    assert all(isinstance(secret.inputs["stringData"], Secret) for secret in secrets)
    wire = repr([r.inputs for r in monitor.registrations])
    for plaintext in ("tskey-client-plain", "AKIA", "plain-s3"):
        assert plaintext not in wire


@pulumi.runtime.test
def test_undecryptable_secret_is_a_secret_unknown() -> Any:
    output = as_secret({"secure": "v1:AAAA"})

    async def check() -> None:
        assert await output.is_secret()
        assert not await output.is_known()

    return pulumi.Output.from_input(check())


def test_brought_client_secret_given_in_plain_text_is_sent_as_a_secret(
        monitor: RecordingMonitor) -> None:
    """A Python caller may pass the secret as a plain string: the component wraps it."""

    @pulumi.runtime.test
    def construct() -> Any:
        operator = TailscaleOperator("op", {**OPERATOR, "oauth_client_id": "kCNTRL",
                                            "oauth_client_secret": "tskey-client-plain"})

        async def check() -> None:
            assert await operator.oauth_secret.string_data.is_secret()
            assert not await operator.oauth_client_id.is_secret()

        return pulumi.Output.from_input(check())

    construct()
    (secret,) = [r for r in monitor.registrations if r.type == "kubernetes:core/v1:Secret"]
    assert isinstance(secret.inputs["stringData"], Secret)
    assert "tskey-client-plain" not in repr([r.inputs for r in monitor.registrations])


@pulumi.runtime.test
def test_created_client_key_is_secret_in_the_kubernetes_secret() -> Any:
    operator = TailscaleOperator("op", OPERATOR)

    async def check() -> None:
        assert await operator.oauth_secret.string_data.is_secret()

    return pulumi.Output.from_input(check())
