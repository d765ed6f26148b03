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
