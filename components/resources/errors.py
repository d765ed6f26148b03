"""Input errors as Pulumi reports them: the message, without a traceback; and the one place
component args become their spec."""

from typing import TypeVar

import pulumi.errors

from ..core.config import SecretInputs, read_spec, snake_key_path
from ..core.problems import InvalidConfig, Problem

T = TypeVar("T")


class InvalidArgs(pulumi.errors.RunError):
    """Bad component args; raised before the component registers anything."""


def _both_spellings(problem: Problem) -> str:
    """Python callers write snake_case, other languages the schema's camelCase: name both
    (an unknown key as it was given)."""
    key = problem.key
    parent, dot, last = key.rpartition(".") if problem.as_given else (key, "", "")
    snake = snake_key_path(parent) + dot + last
    return snake if snake == key else f"{snake} ({key})"


def invalid_args(error: InvalidConfig, component: str) -> InvalidArgs:
    for_python = InvalidConfig(
        [type(p)(_both_spellings(p), p.message, p.fix) for p in error.problems],
        prefix="args.",
        subject=f"{component} args",
    )
    return InvalidArgs(for_python.render())


def read_args(cls: type[T], args: object, component: str) -> tuple[T, SecretInputs]:
    """A component's args as its spec, and the values kept apart (secrets, Pulumi inputs);
    `InvalidArgs` listing every problem before anything is registered."""
    spec, kept, problems = read_spec(cls, args, "args")
    if problems:
        raise invalid_args(InvalidConfig(problems), component) from None
    return spec, SecretInputs(kept)


def raise_for_problems(problems: list[Problem], component: str) -> None:
    """Stop a component's construction, before it registers anything, if its args are bad."""
    if problems:
        raise invalid_args(InvalidConfig(problems), component) from None
