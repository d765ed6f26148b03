"""Lockdown readiness from the access matrix rows, and issuers.

Rows are matched by their kinds (`deployer`, `break-glass`) and whether they fail closed;
the rows here are built by hand.
"""

import copy

import pytest
from conftest import PROJECT_ROOT, stack_config
from hypothesis import given
from hypothesis import strategies as st
from tailscale_cluster_access.core.cluster_plan import plan_cluster
from tailscale_cluster_access.core.lockdown import blockers, lockdown, public_issuer
from tailscale_cluster_access.core.policy.access import AccessRow
from tailscale_cluster_access.core.spec import ClusterAccessSpec

SPEC = ClusterAccessSpec(cluster="gpu", tailnet_domain="tailxyz.ts.net")


def row(kind: str, *, fails_closed: bool = False, ports: tuple[int, ...] = (443,)
        ) -> AccessRow:
    return AccessRow(src=f"src-{kind}", endpoint="gpu", ports=ports, kubernetes_groups=(),
                     cluster_roles=(), recorded=fails_closed, enforced=fails_closed,
                     posture=(), fails_closed=fails_closed, kind=kind)


READY_ROWS = [row("grant", fails_closed=True), row("deployer"), row("break-glass")]


def test_deployer_and_break_glass_that_stay_open_are_ready() -> None:
    result = lockdown(SPEC, READY_ROWS)
    assert result["ready"] is True
    assert result["notReadyBecause"] == []


@pytest.mark.parametrize(("missing", "named"), [
    ("deployer", "no deployer path"),
    ("break-glass", "no break-glass path"),
])
def test_a_missing_path_is_named(missing: str, named: str) -> None:
    rows = [r for r in READY_ROWS if r.kind != missing]
    result = lockdown(SPEC, rows)
    assert result["ready"] is False
    assert [reason for reason in result["notReadyBecause"] if reason.startswith(named)]


def test_everyone_failing_closed_is_not_ready() -> None:
    rows = [row("grant", fails_closed=True), row("deployer", fails_closed=True),
            row("break-glass", fails_closed=True)]
    reasons = blockers(SPEC, rows)
    assert any("every identity fails closed" in reason for reason in reasons)
    assert any("deployer fails closed" in reason for reason in reasons)


def test_the_operator_row_is_no_way_in() -> None:
    rows = [row("grant", fails_closed=True), row("deployer", fails_closed=True),
            row("break-glass", fails_closed=True), row("operator", ports=())]
    assert any("every identity" in reason for reason in blockers(SPEC, rows))


@given(st.lists(st.sampled_from(["grant", "as-itself", "tags-as-groups", "operator"]),
                max_size=6), st.lists(st.booleans(), min_size=6, max_size=6))
def test_never_ready_without_both_paths(kinds: list[str], closed: list[bool]) -> None:
    rows = [row(kind, fails_closed=flag) for kind, flag in zip(kinds, closed, strict=False)]
    assert lockdown(SPEC, rows)["ready"] is False
    assert lockdown(SPEC, [*rows, row("deployer")])["ready"] is False
    assert lockdown(SPEC, [*rows, row("break-glass")])["ready"] is False


def test_the_cloud_settings_are_the_ones_to_apply() -> None:
    settings = lockdown(SPEC, READY_ROWS)["settings"]
    assert settings["eks"]["set"] == {"vpc_config.endpoint_public_access": False,
                                      "vpc_config.endpoint_private_access": True}
    assert settings["gke"]["set"]["private_cluster_config.enable_private_endpoint"] is True
    assert settings["aks"]["set"]["api_server_access_profile.enable_private_cluster"] is True
    result = lockdown(SPEC, READY_ROWS)
    assert set(result["sideDoors"]) == set(result["reopen"]) == {"eks", "gke", "aks"}
    assert any("bootstrap_cluster_creator_admin_permissions" in door
               for door in result["sideDoors"]["eks"])
    assert any("run command" in door for door in result["sideDoors"]["aks"])
    assert any("DNS" in door for door in result["sideDoors"]["gke"])


@pytest.mark.parametrize(("issuer", "cloud"), [
    ("https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE", "EKS"),
    ("https://container.googleapis.com/v1/projects/ml/locations/us-central1/clusters/gpu",
     "GKE"),
    ("https://westeurope.oic.prod-aks.azure.com/tenant/cluster-id/", "AKS"),
    ("https://kubernetes.default.svc", ""),
    ("https://oidc.eks.us-east-1.amazonaws.com.evil.example/id/X", ""),
])
def test_public_issuers_are_recognised(issuer: str, cloud: str) -> None:
    assert public_issuer(issuer) == cloud


def test_in_process_proxy_without_tailnet_domain_has_no_deploy_server() -> None:
    config = copy.deepcopy(stack_config("dev"))
    config["deployer"] = {}
    config.pop("tailnetDomain", None)
    plan = plan_cluster(config, PROJECT_ROOT)
    assert any("tailnetDomain" in reason for reason in blockers(plan.spec, []))


def test_a_planned_deployer_and_a_break_glass_row_make_the_stack_ready() -> None:
    config = copy.deepcopy(stack_config("dev"))
    config.update(deployer={}, tailnetDomain="tailxyz.ts.net")
    plan = plan_cluster(config, PROJECT_ROOT)
    rows = list(plan.access)
    assert lockdown(plan.spec, rows)["notReadyBecause"] == [
        "no break-glass path: nobody gets in when the recorder is down (set `breakGlass`)"]
    assert lockdown(plan.spec, [*rows, row("break-glass")])["ready"] is True
