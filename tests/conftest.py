"""Shared helpers: run the real stack program under the SDK's mocks, or the CLI."""

import asyncio
import copy
import gc
import io
import logging
import signal
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Imported before any test module: imported late (first by a test module), hypothesis makes
# CPython 3.11.7's ast.parse fail in pytest's failure reports ("AST constructor recursion
# depth mismatch").
import hypothesis  # noqa: F401
import pytest
import yaml
from pulumi.runtime import config as pulumi_config
from pulumi.runtime import mocks
from pulumi.runtime import settings as pulumi_settings
from tailscale_cluster_access.offline import PreviewMocks, ProgramRun, run_program
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


class StateMocks(PreviewMocks):
    """A preview of a stack whose state holds resources of these types: their IDs are known
    (`ids[type]`, else `<name>-id`), as the engine reads them from the state; everything else
    is created (ID unknown)."""

    def __init__(self, existing: set[str], ids: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.existing = existing
        self.ids = dict(ids or {})

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        _, outputs = super().new_resource(args)
        if args.typ not in self.existing:
            return "", outputs
        return self.ids.get(args.typ, f"{args.name}-id"), outputs


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
def _base_policies_in_tmp_path(monkeypatch: pytest.MonkeyPatch,
                               tmp_path_factory: pytest.TempPathFactory) -> None:
    # Tests keep base policies in tmp_path, outside the project: this is where the reviewer's
    # environment may allow them (tests of the rule itself remove it).
    monkeypatch.setenv("TAILSCALE_CLUSTER_ACCESS_BASE_DIRS", str(tmp_path_factory.getbasetemp()))


@pytest.fixture(autouse=True)
def _project_root_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pulumi runs programs from the project root; relative paths in config assume it.
    monkeypatch.chdir(PROJECT_ROOT)


class _UnretrievedFutures(logging.Handler):
    """asyncio's reports of a future or task whose exception nobody retrieved."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().partition("\n")[0].endswith("exception was never retrieved"):
            self.messages.append(self.format(record))


_UNRETRIEVED = _UnretrievedFutures()
logging.getLogger("asyncio").addHandler(_UNRETRIEVED)


def _unretrieved_since(start: int) -> str:
    found = _UNRETRIEVED.messages[start:]
    return f"{len(found)} unretrieved future(s), the first:\n{found[0]}" if found else ""


@pytest.fixture(autouse=True)
def _fresh_pulumi_runtime() -> Iterator[None]:
    """Each test starts with the SDK as a fresh process has it, and fails when it leaves a
    future whose exception nobody retrieved (asyncio reports those after the run, as
    pages of tracebacks)."""
    start = len(_UNRETRIEVED.messages)
    yield
    # Tests that drive the SDK themselves leave its loop behind, with pending registrations
    # of resources they never awaited; close it as the runner closes its own, then drop the
    # root stack, settings and config those registrations were bound to.
    close_event_loop(asyncio.get_event_loop_policy().get_event_loop())
    pulumi_settings.reset_options()
    pulumi_config.set_all_config({}, [])
    if problem := _unretrieved_since(start):
        pytest.fail(problem, pytrace=False)


@pytest.fixture(autouse=True, scope="session")
def _no_unretrieved_futures_at_the_end() -> Iterator[None]:
    yield
    start = len(_UNRETRIEVED.messages)
    gc.collect()  # futures in reference cycles are reported only when collected
    if problem := _unretrieved_since(start):
        pytest.fail(problem, pytrace=False)


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
