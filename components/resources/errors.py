"""Input errors as Pulumi reports them: the message, without a traceback."""

import pulumi.errors

from ..core.config import snake_key_path
from ..core.problems import InvalidConfig, Problem


class InvalidArgs(pulumi.errors.RunError):
    """Bad component args; raised before the component registers anything."""


def _both_spellings(key: str) -> str:
    """Python callers write snake_case, other languages the schema's camelCase: name both."""
    snake = snake_key_path(key)
    return snake if snake == key else f"{snake} ({key})"


def invalid_args(error: InvalidConfig, component: str) -> InvalidArgs:
    for_python = InvalidConfig(
        [type(p)(_both_spellings(p.key), p.message, p.fix) for p in error.problems],
        prefix="args.",
        subject=f"{component} args",
    )
    return InvalidArgs(for_python.render())


def raise_for_problems(problems: list[Problem], component: str) -> None:
    """Stop a component's construction, before it registers anything, if its args are bad."""
    if problems:
        raise invalid_args(InvalidConfig(problems), component) from None
