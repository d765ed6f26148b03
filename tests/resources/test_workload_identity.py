"""Workload identity: a federated identity instead of an OAuth client and its stored secret.

Facts transcribed from the operator chart v1.102.3 `values.yaml`: `oauth.audience` is "the
audience for oauth.clientId if using a workload identity federation OAuth client. Mutually
exclusive with oauth.clientSecret"; `oauthSecretVolume` overrides the oauth block. The
operator's ServiceAccount is `operator` (its token's subject is
`system:serviceaccount:<namespace>:operator`). pulumi-tailscale `FederatedIdentity` inputs:
issuer, subject, scopes, tags, audience (optional; Tailscale generates one), description.
"""

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from conftest import PROJECT_ROOT, stack_config
from tailscale_cluster_access import SecureClusterAccess
from tailscale_cluster_access.core.cluster_plan import plan_cluster
from tailscale_cluster_access.core.problems import InvalidConfig
from tailscale_cluster_access.offline import PreviewMocks, ProgramRun, RecordingMonitor
from tailscale_cluster_access.offline.cli import main
from tailscale_cluster_access.offline.report import PLAN_FILES
from tailscale_cluster_access.resources.errors import InvalidArgs

FEDERATED_IDENTITY = "tailscale:index/federatedIdentity:FederatedIdentity"
OAUTH_CLIENT = "tailscale:index/oauthClient:OauthClient"
SECRET = "kubernetes:core/v1:Secret"
RELEASE = "kubernetes:helm.sh/v3:Release"
ACL = "tailscale:index/acl:Acl"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"


def identity_config(**fields: Any) -> dict[str, Any]:
    return {"oauth": {"workloadIdentity": {"issuer": ISSUER, **fields}}}


def test_prod_uses_workload_identity(run_stack: Callable[..., ProgramRun]) -> None:
    run = run_stack("prod")
    identity = run.one(FEDERATED_IDENTITY)
    assert identity.inputs["issuer"] == ISSUER
    assert identity.inputs["subject"] == "system:serviceaccount:tailscale:operator"
    assert identity.inputs["scopes"] == ["devices:core", "auth_keys", "services"]
    assert identity.inputs["tags"] == ["tag:k8s-operator"]
    assert "audience" not in identity.inputs
    assert run.by_type(OAUTH_CLIENT) == []
    assert run.by_type(SECRET) == []
    # Like the OAuth client: the operator tag must exist in the policy first.
    assert run.one(ACL).urn in identity.dependencies
    values = run.one(RELEASE).inputs["values"]
    assert "oauthSecretVolume" not in values
    assert set(values["oauth"]) == {"clientId", "audience"}
    assert "clientSecret" not in values["oauth"]
    assert run.one(RELEASE).urn not in identity.dependencies
    assert run.outputs["operatorCredentials"] == "workload identity: no stored secret"


def test_subject_uses_the_operator_namespace(run_stack: Callable[..., ProgramRun]) -> None:
    run = run_stack("prod", {"operator": {"namespace": "ts-system"}})
    subject = run.one(FEDERATED_IDENTITY).inputs["subject"]
    assert subject == "system:serviceaccount:ts-system:operator"


def test_given_audience_goes_to_the_identity_and_the_chart(
        run_stack: Callable[..., ProgramRun]) -> None:
    run = run_stack("dev", identity_config(audience="sts.amazonaws.com"))
    assert run.one(FEDERATED_IDENTITY).inputs["audience"] == "sts.amazonaws.com"
    assert run.one(RELEASE).inputs["values"]["oauth"]["audience"] == "sts.amazonaws.com"


SELF_HOSTED_ISSUER = "https://kubernetes.gpu.example.com"


def binding_names(run: ProgramRun) -> set[str]:
    return {r.inputs["metadata"]["name"] for r in run.by_type(BINDING)}


def test_discovery_binding_only_when_asked(run_stack: Callable[..., ProgramRun]) -> None:
    assert "oidc-discovery" not in binding_names(run_stack("prod"))
    run = run_stack("prod", identity_config(allowPublicDiscovery=True,
                                            issuer=SELF_HOSTED_ISSUER))
    (binding,) = [r for r in run.by_type(BINDING)
                  if r.inputs["metadata"]["name"] == "oidc-discovery"]
    assert binding.inputs["subjects"] == [{"kind": "Group", "name": "system:unauthenticated",
                                           "apiGroup": "rbac.authorization.k8s.io"}]
    assert binding.inputs["roleRef"] == {"kind": "ClusterRole",
                                         "name": "system:service-account-issuer-discovery",
                                         "apiGroup": "rbac.authorization.k8s.io"}


@pytest.mark.parametrize("issuer", [
    ISSUER,
    "https://container.googleapis.com/v1/projects/ml/locations/us-central1/clusters/gpu",
    "https://eastus.oic.prod-aks.azure.com/00000000-0000-0000-0000-000000000000/"
    "11111111-1111-1111-1111-111111111111/",
])
def test_no_anonymous_discovery_binding_where_the_cloud_publishes_the_issuer(
        run_stack: Callable[..., ProgramRun], issuer: str) -> None:
    run = run_stack("prod", identity_config(allowPublicDiscovery=True, issuer=issuer))
    assert "oidc-discovery" not in binding_names(run)
    (warning,) = [text for _, text in run.messages if "allowPublicDiscovery is ignored" in text]
    assert "system:unauthenticated" in warning
    assert not any("self-hosted" in reason
                   for reason in run.outputs["lockdown"]["notReadyBecause"])


def test_self_hosted_issuer_keeps_lockdown_closed(
        run_stack: Callable[..., ProgramRun]) -> None:
    run = run_stack("prod", identity_config(issuer=SELF_HOSTED_ISSUER))
    (reason,) = [r for r in run.outputs["lockdown"]["notReadyBecause"] if "self-hosted" in r]
    assert SELF_HOSTED_ISSUER in reason and "public endpoint" in reason
    assert run.outputs["lockdown"]["ready"] is False


def test_dev_stays_the_guide(run_stack: Callable[..., ProgramRun]) -> None:
    run = run_stack("dev")
    assert run.by_type(FEDERATED_IDENTITY) == []
    run.one(OAUTH_CLIENT)
    assert run.outputs["operatorCredentials"] == (
        "OAuth client secret in Secret tailscale-cluster-access-oauth")


def problems_of(changes: dict[str, Any]) -> dict[str, str]:
    config = copy.deepcopy(stack_config("prod"))
    config.update(changes)
    with pytest.raises(InvalidConfig) as raised:
        plan_cluster(config, PROJECT_ROOT)
    return {p.key: f"{p.message} {p.fix}" for p in raised.value.problems}


def test_chart_with_broken_workload_identity_is_refused() -> None:
    problems = problems_of({"operator": {"chartVersion": "1.98.2"}})
    text = problems["operator.chartVersion"]
    assert "tailscale/tailscale#19844" in text and "#19919" in text and "1.98.4" in text
    for fine in ("1.98.4", "1.96.0"):
        config = copy.deepcopy(stack_config("prod"))
        config["operator"] = {"chartVersion": fine}
        plan_cluster(config, PROJECT_ROOT)
    # Without workload identity the 1.98.x releases remain usable.
    config = copy.deepcopy(stack_config("dev"))
    config["operator"] = {"chartVersion": "1.98.2"}
    plan_cluster(config, PROJECT_ROOT)


def test_every_problem_is_listed_at_once() -> None:
    problems = problems_of({
        "oauth": {"clientId": "kQ5CNTRL", "clientSecret": "tskey-client-x",
                  "workloadIdentity": {"issuer": "oidc.example.com"}},
        "operator": {"chartVersion": "1.98.0"},
    })
    assert set(problems) == {"oauth.workloadIdentity", "oauth.workloadIdentity.issuer",
                             "operator.chartVersion"}
    assert "oauth.clientId and oauth.clientSecret" in problems["oauth.workloadIdentity"]
    assert "https URL" in problems["oauth.workloadIdentity.issuer"]


@pytest.mark.parametrize("issuer", ["http://oidc.example.com", "oidc.example.com",
                                    "https://", "https://oidc.example.com/?x=1"])
def test_issuer_must_be_an_https_url(issuer: str) -> None:
    problems = problems_of({"oauth": {"workloadIdentity": {"issuer": issuer}}})
    assert set(problems) == {"oauth.workloadIdentity.issuer"}


def test_component_args_fail_before_any_resource() -> None:
    recording = RecordingMonitor(PreviewMocks())
    pulumi.runtime.set_mocks(recording.mocks, project="p", stack="s", preview=False,
                             monitor=recording)
    with pytest.raises(InvalidArgs) as raised:
        SecureClusterAccess("c", {"cluster": "c", "policy": {"manage": False},
                                  "oauth": {"client_id": "k1",
                                            "workload_identity": {"issuer": "http://x"}}})
    message = str(raised.value)
    assert "oauth.workload_identity.issuer (oauth.workloadIdentity.issuer):" in message
    assert "oauth.workload_identity (oauth.workloadIdentity):" in message
    assert recording.registrations == []


def test_prod_plan_holds_no_secret(tmp_path: Path) -> None:
    out = tmp_path / "prod"
    code = main(["plan", "--stack", "prod", "--out", str(out), "--project", str(PROJECT_ROOT)])
    assert code == 0
    for name in PLAN_FILES:
        assert "[secret]" not in (out / name).read_text(), name
    summary = (out / "summary.md").read_text()
    assert "Operator credentials: workload identity: no stored secret." in summary
    assert "Secrets: this stack holds none." in summary


def test_operator_component_refuses_a_broken_chart_for_workload_identity() -> None:
    from tailscale_cluster_access import TailscaleOperator

    recording = RecordingMonitor(PreviewMocks())
    pulumi.runtime.set_mocks(recording.mocks, project="p", stack="s", preview=False,
                             monitor=recording)
    with pytest.raises(InvalidArgs) as raised:
        TailscaleOperator("op", {"namespace": "tailscale", "chart_version": "1.98.3",
                                 "hostname": "tailscale-operator",
                                 "operator_tag": "tag:k8s-operator", "proxy_tag": "tag:k8s",
                                 "api_server_proxy_mode": "true", "allow_impersonation": False,
                                 "workload_identity_issuer": ISSUER})
    assert "#19844" in str(raised.value)
    assert recording.registrations == []


def test_empty_workload_identity_asks_for_the_issuer() -> None:
    problems = problems_of({"oauth": {"workloadIdentity": {}}})
    assert set(problems) == {"oauth.workloadIdentity.issuer"}


def test_access_matrix_file_states_the_credential_kind(tmp_path: Path) -> None:
    for stack, kind in (("prod", "workload identity: no stored secret"),
                        ("dev", "OAuth client secret in Secret tailscale-cluster-access-oauth")):
        out = tmp_path / stack
        assert main(["plan", "--stack", stack, "--out", str(out),
                     "--project", str(PROJECT_ROOT)]) == 0
        assert f"Operator credentials: {kind}." in (out / "access.md").read_text()
