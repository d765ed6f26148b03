"""`export-base`, the drift check's remedy: the live policy minus the stack's own entries.

Copying the whole live policy into policy.base (the old remedy) freezes the stack's own
entries into the base: removing an access rule afterwards leaves its grant written.
"""

import io
from pathlib import Path
from typing import Any

import pytest
from conftest import run_config
from tailscale_cluster_access.core.policy import hujson
from tailscale_cluster_access.offline.cli import main
from test_tailscale_api import (  # the fake Tailscale API and its fixture
    ACL_TYPE,
    ADDED_RULE,
    DRIFT_FIX,
    FakeTailscale,
    fake,
    use_fake,
    with_base,
)

__all__ = ["fake"]
DEV = "organization/tailscale-cluster-access/dev"
READERS_GRANT = "group:ml-readers"


def written_by(config: dict[str, Any]) -> str:
    """What an update writes: the live policy afterwards."""
    return run_config(config, stack="dev", preview=False).one(ACL_TYPE).inputs["acl"]


def export_base(tmp_path: Path, live: str, *args: str) -> tuple[int, str, str]:
    (tmp_path / "live.hujson").write_text(live)
    out, err = io.StringIO(), io.StringIO()
    code = main(["export-base", "--stack", DEV, "--live", str(tmp_path / "live.hujson"),
                 *args], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def without_readers(config: dict[str, Any], base: Path) -> dict[str, Any]:
    return {**config, "access": config["access"][:1],
            "groups": {"group:ml-engineers": config["groups"]["group:ml-engineers"]},
            "policy": {**config["policy"], "base": str(base)}}


def test_after_export_base_removing_an_access_rule_revokes_it(tmp_path: Path) -> None:
    first = with_base(tmp_path)
    live = written_by(first)
    assert READERS_GRANT in live
    code, exported, _ = export_base(tmp_path, live)
    assert code == 0
    (tmp_path / "exported.hujson").write_text(exported)
    second = written_by(without_readers(first, tmp_path / "exported.hujson"))
    assert READERS_GRANT not in second
    # The old remedy, the whole live policy as the base, keeps the revoked grant.
    (tmp_path / "whole-live.hujson").write_text(live)
    assert READERS_GRANT in written_by(without_readers(first, tmp_path / "whole-live.hujson"))


def test_export_base_keeps_rules_added_in_the_console_and_the_drift_passes(
        fake: FakeTailscale, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = with_base(tmp_path)
    live = written_by(first).replace('"acls": [', f'"acls": [\n{ADDED_RULE},', 1)
    out = tmp_path / "base.hujson"
    code, stdout, stderr = export_base(tmp_path, live, "--out", str(out))
    assert (code, stdout) == (0, "")
    exported = hujson.parse(out.read_text()).data
    assert hujson.parse(ADDED_RULE).data in exported["acls"]
    assert "group:ml-engineers" not in exported.get("groups", {})  # the stack's own group
    assert "group:sre" in exported["groups"]  # the base's own
    assert "tailscale-cluster-access owns:" not in out.read_text()
    assert "Left out" in stderr
    use_fake(monkeypatch, fake)
    fake.live_policy = live
    run = run_config({**first, "policy": {**first["policy"], "base": str(out)}}, stack="dev")
    written = hujson.parse(run.one(ACL_TYPE).inputs["acl"]).data
    assert hujson.parse(ADDED_RULE).data in written["acls"]


def test_drift_remedy_points_to_export_base() -> None:
    assert "export-base" in DRIFT_FIX
    assert "export the live policy into policy.base again" not in DRIFT_FIX


@pytest.mark.parametrize("stack", ["dev", "tailscale-cluster-access/dev", "a/b/c d"])
def test_export_base_wants_the_stack_named_in_full(tmp_path: Path, stack: str) -> None:
    (tmp_path / "live.hujson").write_text("{}")
    err = io.StringIO()
    code = main(["export-base", "--stack", stack, "--live", str(tmp_path / "live.hujson")],
                stdout=io.StringIO(), stderr=err)
    assert code == 2
    assert "<organization>/<project>/<stack>" in err.getvalue()


def test_export_base_without_credentials_says_what_to_set() -> None:
    err = io.StringIO()
    assert main(["export-base", "--stack", DEV, "--fetch"], stdout=io.StringIO(),
                stderr=err) == 2
    assert "TAILSCALE_API_KEY" in err.getvalue()


def test_export_base_fetches_the_live_policy(
        fake: FakeTailscale, monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake(monkeypatch, fake)
    fake.live_policy = '{"acls": [' + ADDED_RULE + ']}'
    out = io.StringIO()
    assert main(["export-base", "--stack", DEV, "--fetch"], stdout=out,
                stderr=io.StringIO()) == 0
    assert hujson.parse(out.getvalue()).data == {"acls": [hujson.parse(ADDED_RULE).data]}
    assert [r.path for r in fake.policy_reads()] == ["/api/v2/tailnet/-/acl"]
