"""Keep secret inputs Pulumi secrets from config to Kubernetes Secret."""

import asyncio
from typing import Any

import pulumi

from ..core.config import is_secret_placeholder


def _settled(value: Any) -> "asyncio.Future[Any]":
    future: asyncio.Future[Any] = asyncio.get_event_loop().create_future()
    future.set_result(value)
    return future


def unknown_secret() -> pulumi.Output[str]:
    """A secret whose value is not known here, as in a preview without the stack's key."""
    return pulumi.Output(set(), _settled(None), _settled(False), _settled(True))


def as_secret(value: Any) -> pulumi.Output[str]:
    """Wrap a config value or Output as a secret; `secure:` placeholders stay unknown."""
    if is_secret_placeholder(value):
        return unknown_secret()
    return pulumi.Output.secret(value)
