"""A run closes the event loop it opened, whether the program succeeds or fails."""

import asyncio
import gc
import logging
from pathlib import Path

import pytest
from conftest import run_config, stack_config
from pulumi.runtime import settings
from tailscale_cluster_access.offline import PreviewMocks, run_program
from tailscale_cluster_access.offline.runner import close_event_loop

PROGRAM_THAT_FAILS_MID_RUN = '''
import pulumi
import pulumi_kubernetes as k8s

k8s.core.v1.Namespace("before")
# A registration still pending when the program raises: the runner cancels it.
pulumi.Output.from_input(1).apply(lambda _: k8s.core.v1.Namespace("after"))
raise RuntimeError("program failed")
'''


@pytest.fixture
def opened_loops(monkeypatch: pytest.MonkeyPatch) -> list[asyncio.AbstractEventLoop]:
    loops: list[asyncio.AbstractEventLoop] = []
    open_loop = asyncio.new_event_loop

    def recording_open() -> asyncio.AbstractEventLoop:
        loops.append(open_loop())
        return loops[-1]

    monkeypatch.setattr(asyncio, "new_event_loop", recording_open)
    return loops


def test_a_run_closes_its_loop(run_stack, opened_loops) -> None:
    run = run_stack("dev")
    assert run.registrations
    assert opened_loops and all(loop.is_closed() for loop in opened_loops)


def test_a_failed_run_closes_its_loop_too(tmp_path: Path, opened_loops) -> None:
    program = tmp_path / "__main__.py"
    program.write_text(PROGRAM_THAT_FAILS_MID_RUN)
    with pytest.raises(Exception, match="program failed"):
        run_program(program, project="p", stack_name="s", config={})
    assert opened_loops and all(loop.is_closed() for loop in opened_loops)


def test_sdk_code_after_a_run_gets_a_loop_of_its_own(run_stack) -> None:
    run_stack("dev")
    loop = asyncio.get_event_loop_policy().get_event_loop()
    assert not loop.is_closed()
    close_event_loop(loop)


def test_runs_in_one_process_do_not_share_state() -> None:
    from conftest import run_config

    first = run_config(stack_config("dev"))
    second = run_config(stack_config("dev"))
    assert sorted(r.urn for r in first.registrations) == sorted(
        r.urn for r in second.registrations)


def refused_run() -> str:
    refusing = PreviewMocks(fail_on={"tailscale:index/acl:Acl": "412 Precondition Failed"})
    try:
        run_config(stack_config("dev"), program_mocks=refusing, preview=False)
    except Exception as error:  # only its text is kept, so the run can be freed
        return str(error)
    return "no error"


def test_a_provider_refusal_leaves_no_unretrieved_future_behind(
        caplog: pytest.LogCaptureFixture) -> None:
    """The refusal is raised once; asyncio does not report every failed output of it again
    (as pages of "Future exception was never retrieved" when the futures are collected)."""
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        assert "412 Precondition Failed" in refused_run()
        settings.reset_options()  # the SDK's RPC manager holds the failed futures until then
        gc.collect()
    assert [record.getMessage() for record in caplog.records if record.name == "asyncio"] == []
