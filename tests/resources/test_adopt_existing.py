"""Adopting a tailnet whose policy file Pulumi did not write."""

import copy
import logging
from typing import Any

import pulumi
import pytest
from conftest import run_config, stack_config
from pulumi.resource_hooks import ErrorHookArgs
from pulumi.runtime import mocks
from tailscale_cluster_access.offline import PreviewMocks, RecordingMonitor
from tailscale_cluster_access.resources.tailnet_policy import ADOPT_HELP, explain_adoption_failure

REFUSAL = (
    "creating tailscale_acl: refusing to overwrite a non-default policy file "
    "(412 Precondition Failed): import it first or set overwrite_existing_content"
)


class TailnetWithAPolicy(PreviewMocks):
    """Answers like the tailscale provider on a tailnet whose policy is not the default."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == "tailscale:index/acl:Acl" and not args.inputs.get(
            "overwriteExistingContent"
        ):
            raise RuntimeError(REFUSAL)
        return "acl" if args.typ == "tailscale:index/acl:Acl" else "", dict(args.inputs)


def test_first_apply_on_a_busy_tailnet_fails_and_nothing_is_overwritten() -> None:
    with pytest.raises(RuntimeError, match="412"):
        run_config(stack_config("dev"), program_mocks=TailnetWithAPolicy(), preview=False)


def test_the_acl_carries_the_explaining_error_hook() -> None:
    config = copy.deepcopy(stack_config("dev"))
    config["policy"] = {"base": "policies/base.hujson", "adoptExisting": True}
    run = run_config(config, program_mocks=TailnetWithAPolicy(), preview=False)
    acl = run.one("tailscale:index/acl:Acl")
    assert acl.inputs["overwriteExistingContent"] is True
    assert acl.options["onErrorHooks"] == ["gpu-dev-policy-explain-adoption"]


def test_the_hook_explains_the_refusal(caplog: pytest.LogCaptureFixture) -> None:
    """What the engine does when the create fails: call the Acl's error hook with the errors."""
    logger = logging.getLogger("adopt-test")
    monitor = RecordingMonitor(PreviewMocks())
    pulumi.runtime.set_mocks(
        monitor.mocks, project="p", stack="s", preview=False, logger=logger, monitor=monitor
    )

    def failed_create(error: str) -> ErrorHookArgs:
        return ErrorHookArgs(urn="urn:acl", id="", name="gpu-dev-policy-acl",
                             type="tailscale:index/acl:Acl", new_inputs={},
                             failed_operation="create", errors=[error])

    with caplog.at_level(logging.ERROR, logger="adopt-test"):
        assert explain_adoption_failure(failed_create(REFUSAL)) is False
        assert explain_adoption_failure(failed_create("401 Unauthorized")) is False
    assert [record.getMessage() for record in caplog.records] == [ADOPT_HELP]
    assert "policy.adoptExisting: true" in ADOPT_HELP and "policy.base" in ADOPT_HELP


def test_operator_objects_carry_the_existing_object_hook() -> None:
    run = run_config(stack_config("dev"), preview=False)
    for type_token, suffix in (("kubernetes:core/v1:Namespace", "namespace"),
                               ("kubernetes:core/v1:Secret", "oauth"),
                               ("kubernetes:helm.sh/v3:Release", "release")):
        hooks = run.one(type_token).options["onErrorHooks"]
        assert hooks == [f"gpu-dev-operator-{suffix}-explain-existing"]


def test_existing_operator_objects_are_named_with_the_import_command(
        caplog: pytest.LogCaptureFixture) -> None:
    from tailscale_cluster_access.resources.existing import explain_existing_object
    logger = logging.getLogger("existing-test")
    monitor = RecordingMonitor(PreviewMocks())
    pulumi.runtime.set_mocks(
        monitor.mocks, project="p", stack="s", preview=False, logger=logger, monitor=monitor
    )

    def failed_create(type_token: str, inputs: dict[str, Any], error: str) -> ErrorHookArgs:
        return ErrorHookArgs(urn="urn:x", id="", name="gpu-dev-operator-release",
                             type=type_token, new_inputs=inputs, failed_operation="create",
                             errors=[error])

    with caplog.at_level(logging.ERROR, logger="existing-test"):
        assert explain_existing_object(failed_create(
            "kubernetes:helm.sh/v3:Release", {"name": "tailscale-operator",
                                              "namespace": "tailscale"},
            "cannot re-use a name that is still in use")) is False
        assert explain_existing_object(failed_create(
            "kubernetes:core/v1:Namespace", {"metadata": {"name": "tailscale"}},
            "connection refused")) is False
    (message,) = [record.getMessage() for record in caplog.records]
    assert "'tailscale/tailscale-operator' already exists" in message
    assert ("pulumi import 'kubernetes:helm.sh/v3:Release' 'gpu-dev-operator-release' "
            "'tailscale/tailscale-operator'") in message


# The tailscale-operator chart renders its own Secret `operator-oauth` exactly when
# `oauth.clientId` is set (tailscale/tailscale cmd/k8s-operator/deploy/chart/templates/
# oauth-secret.yaml, `{{ if and .Values.oauth .Values.oauth.clientId }}`; values.yaml of
# v1.102.3: "If set a Kubernetes Secret with the provided value will be created").
def chart_rendered_secrets(values: dict[str, Any]) -> set[str]:
    return {"operator-oauth"} if (values.get("oauth") or {}).get("clientId") else set()


STANDARD_INSTALL_VALUES = {"oauth": {"clientId": "kSTANDARD", "clientSecret": "s3cr3t"}}


def test_adopting_a_standard_install_keeps_the_secret_the_operator_reads() -> None:
    """First state: `helm install` with oauth.clientId/clientSecret. The stack adopts it (the
    release imported); its next `up` is a `helm upgrade` with the stack's values, which
    deletes every object the old values rendered and the new ones do not."""
    run = run_config(stack_config("dev"), preview=False)
    secret = run.one("kubernetes:core/v1:Secret")
    values = run.one("kubernetes:helm.sh/v3:Release").inputs["values"]
    deleted_by_upgrade = (chart_rendered_secrets(STANDARD_INSTALL_VALUES)
                          - chart_rendered_secrets(values))
    name = secret.inputs["metadata"]["name"]
    assert name not in deleted_by_upgrade
    assert values["oauthSecretVolume"] == {"secret": {"secretName": name}}
    assert secret.name == "gpu-dev-operator-oauth"  # the resource's Pulumi name is kept


def test_an_existing_release_is_not_imported_with_its_secret(
        caplog: pytest.LogCaptureFixture) -> None:
    from tailscale_cluster_access.resources.existing import explain_existing_object
    release = run_config(stack_config("dev"), preview=False).one(
        "kubernetes:helm.sh/v3:Release")
    logger = logging.getLogger("existing-release-test")
    monitor = RecordingMonitor(PreviewMocks())
    pulumi.runtime.set_mocks(
        monitor.mocks, project="p", stack="s", preview=False, logger=logger, monitor=monitor
    )
    with caplog.at_level(logging.ERROR, logger="existing-release-test"):
        explain_existing_object(ErrorHookArgs(
            urn="urn:x", id="", name=release.name, type=release.type,
            new_inputs=release.inputs, failed_operation="create",
            errors=["cannot re-use a name that is still in use"]))
    (message,) = [record.getMessage() for record in caplog.records]
    assert "copies that secret into the Pulumi state in plain text" in message
    take_out = ("helm -n tailscale upgrade tailscale-operator tailscale-operator --repo "
                "https://pkgs.tailscale.com/helmcharts --version 1.102.3 --reuse-values "
                "--set oauth.clientSecret=null --set oauth.clientId=null --set-json "
                "'oauthSecretVolume={\"secret\":{\"secretName\":\"" +
                release.inputs["values"]["oauthSecretVolume"]["secret"]["secretName"] + "\"}}'")
    assert take_out in message
    assert message.index(take_out) < message.index("pulumi import")
