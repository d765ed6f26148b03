"""Shared helpers: run the real stack program under the SDK's mocks."""

import copy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from tailscale_cluster_access.offline import ProgramRun, run_program

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
