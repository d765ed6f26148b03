"""Two writers of one tailnet policy: each ownership line names its writer, and a stack
trusts only its own lines. Entries under another writer's line are drift naming it.

Before writers were recorded, staging planned after dev on one tailnet took dev's entries
for its own (0 drift, dev's entries deleted), and a cluster stack left at `manage: true` on
a fleet tailnet did the same to the other clusters' entries.
"""

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import run_config, stack_config
from tailscale_cluster_access.core.policy.ownership import (
    MARKER,
    UNNAMED,
    records,
    with_writer,
)
from tailscale_cluster_access.offline import run_program
from test_tailscale_api import (  # the fake Tailscale API and its fixture
    ACL_TYPE,
    FakeTailscale,
    fake,
    use_fake,
)

__all__ = ["fake"]
PROJECT = "tailscale-cluster-access"
DEV = f"organization/{PROJECT}/dev"
FLEET = "organization/tailnet/fleet"
OTHER_CLUSTER = ('{"tagOwners": {"tag:k8s-operator-gpu-east": []}, "grants": [{"src": '
                 '["group:ml-engineers"], "dst": ["tag:k8s-gpu-east"], "ip": ["tcp:443"]}]}')
FLEET_PROGRAM = """
from pathlib import Path
from tailscale_cluster_access import TailnetPolicy
TailnetPolicy("fleet", {{"base": Path({base!r}).read_text(), "fragments": [{other!r}]}})
"""


def written_by(stack: str, config: dict[str, Any] | None = None) -> str:
    """What an update of `stack` writes: the live policy afterwards."""
    run = run_config(config or stack_config(stack), stack=stack, preview=False)
    return str(run.one(ACL_TYPE).inputs["acl"])


def preview_failure(fake: FakeTailscale, monkeypatch: pytest.MonkeyPatch, live: str,
                    stack: str, config: dict[str, Any] | None = None) -> str:
    use_fake(monkeypatch, fake)
    fake.live_policy = live
    with pytest.raises(Exception) as caught:
        run_config(config or stack_config(stack), stack=stack, offline=False)
    return str(caught.value)


def test_each_ownership_line_names_the_stack_that_wrote_it() -> None:
    written = written_by("dev")
    lines = [line for line in written.splitlines() if line.startswith(MARKER)]
    assert lines and all(line.startswith(f"{MARKER} {DEV} ") for line in lines)
    assert set(records(written)) == {DEV}


def test_staging_after_dev_on_one_tailnet_reports_devs_entries(
        fake: FakeTailscale, monkeypatch: pytest.MonkeyPatch) -> None:
    message = preview_failure(fake, monkeypatch, written_by("dev"), "staging")
    lost = [line for line in message.splitlines() if line.startswith("  - ")]
    assert lost and all(line.endswith(f"(written by {DEV})") for line in lost)
    assert f"Another stack writes this tailnet's policy too ({DEV})" in message


def test_cluster_stack_managing_a_fleet_tailnet_reports_the_fleets_entries(
        fake: FakeTailscale, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    base = Path("policies/base.hujson").resolve()
    program = tmp_path / "__main__.py"
    program.write_text(FLEET_PROGRAM.format(base=str(base), other=OTHER_CLUSTER))
    fleet_run = run_program(program, project="tailnet", stack_name="fleet", config={},
                            preview=False)
    live = str(fleet_run.one(ACL_TYPE).inputs["acl"])
    assert set(records(live)) == {FLEET}
    message = preview_failure(fake, monkeypatch, live, "dev")
    assert f'tagOwners["tag:k8s-operator-gpu-east"]: [] -> (removed) (written by {FLEET})' \
        in message
    assert "tag:k8s-gpu-east" in message and f"({FLEET})" in message


def test_the_same_stack_still_trusts_its_own_lines(
        fake: FakeTailscale, monkeypatch: pytest.MonkeyPatch) -> None:
    config = stack_config("dev")
    live = written_by("dev", config)
    changed = {**config, "groups": {**config["groups"], "group:ml-readers": ["erin@example.com"]}}
    use_fake(monkeypatch, fake)
    fake.live_policy = live
    run = run_config(changed, stack="dev", offline=False)
    assert "erin@example.com" in run.one(ACL_TYPE).inputs["acl"]


def test_lines_naming_no_writer_are_trusted_by_no_one(
        fake: FakeTailscale, monkeypatch: pytest.MonkeyPatch) -> None:
    config = stack_config("dev")
    unnamed = re.sub(rf"(?m)^({re.escape(MARKER)}) {re.escape(DEV)} ", r"\1 ",
                     written_by("dev", config))
    assert set(records(unnamed)) == {UNNAMED}
    changed = {**config, "groups": {**config["groups"], "group:ml-readers": ["erin@example.com"]}}
    message = preview_failure(fake, monkeypatch, unnamed, "dev", changed)
    assert "(written by a writer its marker does not name)" in message


def test_with_writer_replaces_a_writer_and_keeps_the_digests() -> None:
    text = f"{MARKER} 0123456789abcdef fedcba9876543210\n{{}}\n"
    once = with_writer(text, DEV)
    assert with_writer(once, FLEET) == with_writer(text, FLEET)
    assert records(once) == {DEV: {"0123456789abcdef", "fedcba9876543210"}}
    with pytest.raises(ValueError, match="not a writer name"):
        with_writer(text, "dev")
