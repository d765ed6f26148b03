"""The checks on pre-rendered chart output: no helm, no plan run."""

import copy
from typing import Any

import pytest
from conformance_fixture_data import (
    PROD_MANIFESTS,
    PROD_VALUES,
    fixture_crds,
    release,
    rendered_prod,
    stack_plan,
)

from conformance.checks import (
    FAIL,
    PASS,
    SKIP,
    WARN,
    Check,
    check_release,
    crds_by_kind,
    render_values,
)
from conformance.rbac import chart_rbac, rbac_markdown


@pytest.fixture
def rendered() -> list[dict[str, Any]]:
    return rendered_prod()


@pytest.fixture
def crd_docs() -> list[dict[str, Any]]:
    return fixture_crds()


SECRET_CHECK = "Secret tailscale/operator-oauth has the keys client_id, client_secret"


def statuses(checks: list[Check]) -> dict[str, str]:
    return {c.name: c.status for c in checks}


def failed(checks: list[Check]) -> list[str]:
    return [c.name for c in checks if c.status == FAIL]


def operator_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def set_env(docs: list[dict[str, Any]], name: str, value: str) -> None:
    for env in operator_container(docs)["env"]:
        if env["name"] == name:
            env["value"] = value


def run(docs: list[dict[str, Any]], crd_docs: list[dict[str, Any]], **plan: Any) -> list[Check]:
    stack = stack_plan(**plan)
    return check_release(stack, stack.releases[0], docs, crd_docs, "fixture CRDs", "1.92.4")


def test_prod_rendering_conforms(rendered, crd_docs):
    checks = run(rendered, crd_docs)
    assert failed(checks) == []
    by_name = statuses(checks)
    for name in ("operator Deployment", "OAuth credentials mounted from the stack's Secret",
                 "CLIENT_ID_FILE points into the Secret mount",
                 "CLIENT_SECRET_FILE points into the Secret mount",
                 "APISERVER_PROXY = apiServerProxyConfig.mode",
                 "OPERATOR_HOSTNAME = operatorConfig.hostname",
                 "OPERATOR_INITIAL_TAGS = operatorConfig.defaultTags",
                 "PROXY_TAGS = proxyConfig.defaultTags",
                 "auth-mode ProxyGroup(s) gpu-prod: proxies may impersonate users/groups",
                 "ProxyGroup gpu-prod against the CRD (fixture CRDs)",
                 "Recorder recorder against the CRD (fixture CRDs)"):
        assert by_name[name] == PASS, name
    # The plan masks the Secret's stringData as a whole: its keys cannot be seen.
    assert by_name["Secret tailscale/operator-oauth has the keys client_id, client_secret"] == WARN
    assert by_name["ProxyGroup CEL rule skipped"] == SKIP


@pytest.mark.parametrize(("variable", "value", "check"), [
    ("APISERVER_PROXY", "true", "APISERVER_PROXY = apiServerProxyConfig.mode"),
    ("OPERATOR_HOSTNAME", "other", "OPERATOR_HOSTNAME = operatorConfig.hostname"),
    ("OPERATOR_INITIAL_TAGS", "tag:a,tag:b", "OPERATOR_INITIAL_TAGS = operatorConfig.defaultTags"),
    ("PROXY_TAGS", "[tag:k8s]", "PROXY_TAGS = proxyConfig.defaultTags"),
    ("CLIENT_ID_FILE", "/etc/oauth/client_id", "CLIENT_ID_FILE points into the Secret mount"),
])
def test_env_mismatch_is_reported(rendered, crd_docs, variable, value, check):
    set_env(rendered, variable, value)
    assert failed(run(rendered, crd_docs)) == [check]


def test_volume_of_another_secret_is_reported(rendered, crd_docs):
    deployment = next(d for d in rendered if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"] = "other"
    assert failed(run(rendered, crd_docs)) == ["OAuth credentials mounted from the stack's Secret"]


def test_missing_impersonation_rbac_is_reported(rendered, crd_docs):
    docs = [d for d in rendered if d["kind"] != "ClusterRoleBinding"]
    assert failed(run(docs, crd_docs)) == [
        "auth-mode ProxyGroup(s) gpu-prod: proxies may impersonate users/groups"]


def test_in_process_proxy_needs_the_operator_bound(rendered, crd_docs):
    values = copy.deepcopy(PROD_VALUES)
    values["apiServerProxyConfig"]["mode"] = "true"
    set_env(rendered, "APISERVER_PROXY", "true")
    checks = run(rendered, crd_docs, values=values)
    # The prod rendering binds only the ProxyGroup's account, not the operator's.
    assert failed(checks) == ['in-process API server proxy (mode "true"): operator may impersonate']


@pytest.mark.parametrize(("string_data", "status"), [
    ({"client_id": "x", "client_secret": "y"}, PASS),
    ({"client_id": "x", "clientSecret": "y"}, FAIL),
    ("[secret]", WARN),
])
def test_secret_keys(rendered, crd_docs, string_data, status):
    manifests = copy.deepcopy(PROD_MANIFESTS)
    manifests[0]["stringData"] = string_data
    by_name = statuses(run(rendered, crd_docs, manifests=manifests))
    assert by_name[SECRET_CHECK] == status


def test_stack_without_the_secret_fails(rendered, crd_docs):
    assert "Secret tailscale/operator-oauth has the keys client_id, client_secret" in failed(
        run(rendered, crd_docs, manifests=PROD_MANIFESTS[1:]))


def workload_identity_docs(rendered: list[dict[str, Any]], audience: str) -> list[dict[str, Any]]:
    """The prod rendering turned into what the chart renders for oauth.audience."""
    deployment = next(d for d in rendered if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    pod["volumes"] = [{"name": "oidc-jwt", "projected": {"sources": [
        {"serviceAccountToken": {"audience": audience, "path": "token"}}]}}]
    container = pod["containers"][0]
    container["volumeMounts"] = [{"name": "oidc-jwt",
                                  "mountPath": "/var/run/secrets/tailscale/serviceaccount"}]
    container["env"] = [e for e in container["env"] if not e["name"].startswith("CLIENT_")]
    container["env"].append({"name": "CLIENT_ID", "value": "k123"})
    return rendered


@pytest.mark.parametrize(("audience", "ok"), [("api.tailscale.com/k123", True), ("other", False)])
def test_workload_identity(rendered, crd_docs, audience, ok):
    values = copy.deepcopy(PROD_VALUES)
    del values["oauthSecretVolume"]
    values["oauth"] = {"clientId": "k123", "audience": "api.tailscale.com/k123"}
    checks = run(workload_identity_docs(rendered, audience), crd_docs,
                 manifests=PROD_MANIFESTS[1:], values=values)
    name = "projected serviceAccountToken with audience 'api.tailscale.com/k123'"
    assert statuses(checks)[name] == (PASS if ok else FAIL)
    assert failed(checks) == ([] if ok else [name])
    assert not any("Secret" in c.name for c in checks)


def test_invalid_proxy_group_is_reported(rendered, crd_docs):
    manifests = copy.deepcopy(PROD_MANIFESTS)
    manifests[1]["spec"]["kubeAPIServer"]["mode"] = "impersonate"
    manifests[1]["spec"]["replicaCount"] = 2
    checks = run(rendered, crd_docs, manifests=manifests)
    [bad] = [c for c in checks if c.status == FAIL]
    assert "spec.kubeAPIServer.mode: 'impersonate' is not one of" in bad.detail
    assert "spec.replicaCount: unknown field" in bad.detail


def test_recorder_cel_rule_is_reported(rendered, crd_docs):
    manifests = copy.deepcopy(PROD_MANIFESTS)
    del manifests[2]["spec"]["storage"]
    [bad] = [c for c in run(rendered, crd_docs, manifests=manifests) if c.status == FAIL]
    assert "S3 storage must be used when deploying multiple Recorder replicas" in bad.detail


def test_crds_from_the_rendering_win(rendered, crd_docs):
    checks = run(rendered + crd_docs, [])
    assert statuses(checks)["Recorder recorder against the CRD (rendered with the chart)"] == PASS


def test_no_crds_skips_the_custom_resource_checks(rendered):
    by_name = statuses(run(rendered, []))
    assert by_name["ProxyGroup gpu-prod against the CRD (fixture CRDs)"] == SKIP


def test_a_kind_the_crds_lack_fails(rendered, crd_docs):
    only_recorder = [d for d in crd_docs if d["spec"]["names"]["kind"] == "Recorder"]
    assert crds_by_kind(only_recorder).keys() == {("tailscale.com", "Recorder")}
    assert failed(run(rendered, only_recorder)) == [
        "ProxyGroup gpu-prod against the CRD (fixture CRDs)"]


def test_render_values_replaces_placeholders():
    values = {"oauth": {"clientSecret": "[secret]", "clientId": "[unknown]"}, "tags": ["[secret]"]}
    placed = render_values(values)
    assert "[secret]" not in str(placed) and "[unknown]" not in str(placed)
    assert values["oauth"]["clientSecret"] == "[secret]"
    assert release().values == PROD_VALUES


def test_workload_identity_with_the_generated_audience_unknown_until_up(rendered, crd_docs):
    """The plan shows Tailscale's generated audience and the identity's ID as unknown: the
    chart is rendered with stand-ins, and the checks compare with those."""
    values = copy.deepcopy(PROD_VALUES)
    del values["oauthSecretVolume"]
    values["oauth"] = {"clientId": "[unknown]", "audience": "[unknown]"}
    docs = workload_identity_docs(rendered, "dummy-unknown-for-rendering")
    env = docs[[d["kind"] for d in docs].index("Deployment")]["spec"]["template"]["spec"][
        "containers"][0]["env"]
    env[-1]["value"] = "dummy-unknown-for-rendering"
    checks = run(docs, crd_docs, manifests=PROD_MANIFESTS[1:], values=values)
    assert failed(checks) == []
    assert any("known only after `pulumi up`" in c.name and c.status == PASS for c in checks)


def test_the_chart_s_rbac_is_listed_with_its_rights_and_subjects(rendered):
    rows = chart_rbac(rendered)
    proxy = next(row for row in rows if row["name"] == "tailscale-auth-proxy")
    assert proxy["kind"] == "ClusterRole"
    assert "impersonate" in proxy["sensitiveRights"]
    assert proxy["subjects"] == ["ServiceAccount tailscale/kube-apiserver-auth-proxy"]
    text = rbac_markdown("prod", "fixture", rows)
    assert "| ClusterRole | `tailscale-auth-proxy` | " in text
