"""Shared helpers: run the real stack program under the SDK's mocks, or the CLI."""

import asyncio
import copy
import io
import signal
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from tailscale_cluster_access.offline import ProgramRun, run_program
from tailscale_cluster_access.offline.cli import main
from tailscale_cluster_access.offline.runner import close_event_loop

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROGRAM = PROJECT_ROOT / "__main__.py"
NAMESPACE = "tailscale-cluster-access"
STACKS = ("dev", "staging", "prod")


def stack_config(stack: str) -> dict[str, Any]:
    """The committed stack file's config, with the namespace prefix stripped."""
    document = yaml.safe_load((PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    prefix = f"{NAMESPACE}:"
    return {
        key[len(prefix) :]: value
        for key, value in document["config"].items()
        if key.startswith(prefix)
    }


def run_config(
    config: Mapping[str, Any], *, stack: str = "test", secret_keys: list[str] = (), **kwargs: Any
) -> ProgramRun:
    full = {f"{NAMESPACE}:{key}": value for key, value in config.items()}
    return run_program(
        PROGRAM,
        project=NAMESPACE,
        stack_name=stack,
        config=full,
        secret_keys=[f"{NAMESPACE}:{key}" for key in secret_keys],
        **kwargs,
    )


@pytest.fixture
def run_stack() -> Callable[..., ProgramRun]:
    """run_stack("dev", changes={"proxy": {...}}) runs a stack with top-level keys replaced."""

    def run(stack: str, changes: Mapping[str, Any] | None = None, **kwargs: Any) -> ProgramRun:
        config = copy.deepcopy(stack_config(stack))
        config.update(changes or {})
        return run_config(config, stack=stack, **kwargs)

    return run


TAILSCALE_CREDENTIAL_VARIABLES = (
    "TAILSCALE_API_KEY", "TAILSCALE_OAUTH_CLIENT_ID", "TAILSCALE_OAUTH_CLIENT_SECRET",
    "OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "TAILSCALE_IDENTITY_TOKEN",
)


@pytest.fixture(autouse=True)
def _no_tailscale_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's shell credentials must not make previews call the real Tailscale API.
    for name in TAILSCALE_CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _project_root_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pulumi runs programs from the project root; relative paths in config assume it.
    monkeypatch.chdir(PROJECT_ROOT)


@pytest.fixture(autouse=True)
def _close_event_loop() -> Iterator[None]:
    # Tests that drive the SDK themselves leave its loop behind, with pending registrations
    # of resources they never awaited; close it as the runner closes its own.
    yield
    close_event_loop(asyncio.get_event_loop_policy().get_event_loop())


# A YAML alias bomb ("billion laughs"): 9 levels of 9 aliases each.
BILLION_LAUGHS = "".join(
    [f"a0: &a0 [{', '.join(['lol'] * 9)}]\n"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)]
)


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """A regression that blocks (a FIFO) or loops (an alias bomb) fails instead of hanging."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"blocked or busy for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(*argv: str) -> tuple[int, str, str]:
    """The CLI in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with deadline(60):
        code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def plan(out: Path, *extra: str, stack: str = "dev", config: Path | str | None = None,
         project: Path = PROJECT_ROOT) -> tuple[int, str, str]:
    """`plan --stack <stack> --out <out> <extra>`, of the committed stack file unless
    `config`."""
    argv = ["plan", "--stack", stack, "--out", str(out), "--project", str(project), *extra]
    if config is not None:
        argv += ["--config", str(config)]
    return run_cli(*argv)


def plan_config(tmp: Path, name: str, config: Mapping[str, Any], *extra: str) -> str:
    """Plan `config` (keys without the namespace) as stack prod into `tmp/name`; its stdout."""
    path = tmp / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump(
        {"config": {f"{NAMESPACE}:{key}": value for key, value in config.items()}}))
    code, out, err = plan(tmp / name, *extra, stack="prod", config=path)
    assert code == 0, err
    return out
