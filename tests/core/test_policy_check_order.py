"""The online preview check sits in the Acl's input chain.

In the multi-language component (`pulumi package add`) the host answers the construct call
once the component's resources are registered; an `apply` nothing depends on is never awaited
there. So with an explicit `tailscale.Provider` (whose inputs are Outputs) the Acl's `acl`
input is the check's Output: it depends on the provider inputs the check reads, and a failing
check means no Acl is registered at all.
"""

from pathlib import Path
from typing import Any

import pytest
from tailscale_cluster_access.core.tailscale_api import ALLOW_BASE_URL_ENV
from tailscale_cluster_access.offline import run_program
from test_tailscale_api import (  # the fake Tailscale API and its fixture
    ACL_TYPE,
    FakeTailscale,
    ProviderEchoMocks,
    fake,
    provider_program,
)

__all__ = ["fake"]


class AclRecordingMocks(ProviderEchoMocks):
    def __init__(self) -> None:
        super().__init__()
        self.acls: list[dict[str, Any]] = []

    def new_resource(self, args: Any) -> tuple[str | None, dict[str, Any]]:
        if args.typ == ACL_TYPE:
            self.acls.append(dict(args.inputs))
        return super().new_resource(args)


def test_acl_input_waits_for_the_check_with_an_explicit_provider(
        fake: FakeTailscale, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_BASE_URL_ENV, fake.base_url)
    run = run_program(provider_program(tmp_path, fake), project="p", stack_name="s",
                      config={}, program_mocks=ProviderEchoMocks(), offline=False)
    acl = run.one(ACL_TYPE)
    (provider,) = run.by_type("pulumi:providers:tailscale")
    assert provider.urn in acl.property_dependencies["acl"]
    assert acl.inputs["acl"] == fake.validate_paths()[0].body


def test_failing_check_with_an_explicit_provider_registers_no_acl(
        fake: FakeTailscale, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_BASE_URL_ENV, fake.base_url)
    fake.reply = lambda body: (400, {"message": "rejected by the fake"})
    mocks = AclRecordingMocks()
    with pytest.raises(Exception, match="rejected by the fake"):
        run_program(provider_program(tmp_path, fake), project="p", stack_name="s",
                    config={}, program_mocks=mocks, offline=False)
    assert mocks.acls == []
