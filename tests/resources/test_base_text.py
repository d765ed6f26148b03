"""policy.baseText / base_text: the base policy as text instead of a file."""

from pathlib import Path

import pulumi
import pytest
from conftest import PROJECT_ROOT, run_config, stack_config
from tailscale_cluster_access import SecureClusterAccess
from tailscale_cluster_access.offline import PreviewMocks, RecordingMonitor
from tailscale_cluster_access.resources.errors import InvalidArgs

BASE = (PROJECT_ROOT / "policies" / "base.hujson").read_text()
GROUPS = {"group:ml-engineers": ["alice@example.com"], "group:ml-readers": ["bob@example.com"]}


def test_base_text_in_stack_config_is_the_base() -> None:
    by_file = run_config(stack_config("dev"), stack="dev").one("tailscale:index/acl:Acl")
    config = {**stack_config("dev"), "policy": {"baseText": BASE}}
    by_text = run_config(config, stack="dev").one("tailscale:index/acl:Acl")
    assert by_text.inputs["acl"] == by_file.inputs["acl"]


def test_base_and_base_text_are_exclusive() -> None:
    config = {**stack_config("dev"), "policy": {"base": "policies/base.hujson",
                                                "baseText": BASE}}
    with pytest.raises(Exception, match="not both"):
        run_config(config, stack="dev")


ACCESS = [{"src": ["group:ml-readers"], "kubernetes_groups": ["tailnet-readers"]}]


def test_component_takes_base_text(tmp_path: Path) -> None:
    recording = RecordingMonitor(PreviewMocks())
    pulumi.runtime.set_mocks(recording.mocks, project="p", stack="s", preview=False,
                             monitor=recording)
    SecureClusterAccess("c", {"cluster": "gpu", "groups": GROUPS, "access": ACCESS,
                              "policy": {"base_text": BASE}})
    with pytest.raises(InvalidArgs, match=r"policy\.baseText|base_text"):
        SecureClusterAccess("d", {"cluster": "gpu", "groups": GROUPS, "access": ACCESS,
                                  "policy": {"base_text": "{not hujson"}})


@pytest.fixture
def hosted_as_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process as provider/__main__.py makes it (the host itself is not started)."""
    import runpy

    import pulumi.provider.experimental as experimental
    from tailscale_cluster_access.resources import cluster_access
    monkeypatch.setattr(cluster_access, "_hosted_as_package", False)
    monkeypatch.setattr(experimental, "component_provider_host", lambda *args, **kwargs: None)
    runpy.run_path(str(PROJECT_ROOT / "provider" / "__main__.py"), run_name="__main__")


def test_a_package_refuses_a_relative_base_and_names_base_text(
        hosted_as_package: None) -> None:
    """Under `pulumi package add` the component runs in the package's folder, which knows
    nothing of the consumer's project: a relative path would be read from the wrong place."""
    recording = RecordingMonitor(PreviewMocks())
    pulumi.runtime.set_mocks(recording.mocks, project="p", stack="s", preview=False,
                             monitor=recording)
    with pytest.raises(InvalidArgs) as raised:
        SecureClusterAccess("c", {"cluster": "gpu", "groups": GROUPS, "access": ACCESS,
                                  "policy": {"base": "policies/base.hujson"},
                                  "tag_scheme": "bogus"})
    message = str(raised.value)
    assert "policy.base" in message and "cannot know your project's folder" in message
    assert 'fs.readFileSync("policies/base.hujson", "utf8")' in message
    assert "tag_scheme" in message  # every problem at once
    assert recording.registrations == []
    SecureClusterAccess("d", {"cluster": "gpu", "groups": GROUPS, "access": ACCESS,
                              "policy": {"base_text": BASE}})
