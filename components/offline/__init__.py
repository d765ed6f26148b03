"""The offline plan: the stack program under the SDK's mocks, the reports reviewers read, and
the `tailscale-cluster-access` CLI.

The runner's names are importable from here; they load on first use, so that the CLI's
`--help`, `diff` and `merge` do not import Pulumi.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runner import (
        UNKNOWN,
        PreviewMocks,
        ProgramRun,
        RecordingMonitor,
        Registration,
        Secret,
        Unknown,
        config_strings,
        contains_secret,
        replace_markers,
        run_program,
    )


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import runner

    return getattr(runner, name)


__all__ = [
    "UNKNOWN", "PreviewMocks", "ProgramRun", "RecordingMonitor", "Registration", "Secret",
    "Unknown", "config_strings", "contains_secret", "replace_markers", "run_program",
]
