"""Input errors as Pulumi reports them: the message, without a traceback."""

import pulumi.errors

from .problems import InvalidConfig
from .validation import snake_key_path


class InvalidArgs(pulumi.errors.RunError):
    """Bad component args; raised before the component registers anything."""


def invalid_args(error: InvalidConfig, component: str) -> InvalidArgs:
    for_python = InvalidConfig(
        [type(p)(snake_key_path(p.key), p.message, p.fix) for p in error.problems],
        prefix="args.",
        subject=f"{component} args",
    )
    return InvalidArgs(for_python.render())
