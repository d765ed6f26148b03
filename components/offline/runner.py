"""Run the real stack program under the Pulumi SDK's mock runtime and record what it registers.

This is an offline `pulumi preview`: no CLI, no backend, no credentials. Outputs that only
a provider could compute stay unknown, and secret values are never kept in the record.
"""

import asyncio
import logging
import runpy
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks, settings, stack
from pulumi.runtime.sync_await import _sync_await

from .gc_tuning import fewer_collections

# Wire markers of the Pulumi resource protocol (sdk/go/common/resource/sig).
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


class Secret:
    """A secret input as it reached the engine. The value is never kept."""

    __slots__ = ("known",)

    def __init__(self, known: bool) -> None:
        self.known = known

    def __repr__(self) -> str:
        return "[secret]"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret)

    def __hash__(self) -> int:
        return hash("[secret]")


class Unknown:
    """A value only known after `pulumi up` (a provider output)."""

    def __repr__(self) -> str:
        return "[unknown]"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unknown)

    def __hash__(self) -> int:
        return hash("[unknown]")


UNKNOWN = Unknown()


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return Secret(known=value.get("value") != _UNKNOWN)
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if value == _UNKNOWN:
        return UNKNOWN
    # protobuf Structs carry every number as a double.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


_PLAIN_TYPES = (str, int, bool, float, type(None))


def replace_markers(value: Any, secret: Any, unknown: Any) -> Any:
    """`value` with every `Secret` marker replaced by `secret` and every unknown by `unknown`."""
    # Exact types first: a plan walks every input of every resource, and the ABC checks below
    # cost more than the rest of the walk.
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value
    if kind is dict:
        return {key: replace_markers(item, secret, unknown) for key, item in value.items()}
    if kind is list:
        return [replace_markers(item, secret, unknown) for item in value]
    if isinstance(value, Secret):
        return secret
    if isinstance(value, Unknown):
        return unknown
    if isinstance(value, Mapping):
        return {key: replace_markers(item, secret, unknown) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [replace_markers(item, secret, unknown) for item in value]
    return value


def contains_secret(value: Any) -> bool:
    if isinstance(value, Secret):
        return True
    if isinstance(value, dict):
        return any(contains_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_secret(item) for item in value)
    return False


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    inputs: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)


class RecordingMonitor(mocks.MockMonitor):
    """Records every RegisterResource request: parent, dependencies and inputs."""

    def __init__(self, program_mocks: mocks.Mocks) -> None:
        super().__init__(program_mocks)
        self.registrations: list[Registration] = []
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            raw = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
            options: dict[str, Any] = {}
            if request.deleteBeforeReplace:
                options["deleteBeforeReplace"] = True
            if list(request.replaceOnChanges):
                options["replaceOnChanges"] = list(request.replaceOnChanges)
            if list(request.replace_with):
                options["replaceWith"] = list(request.replace_with)
            if list(request.additionalSecretOutputs):
                options["additionalSecretOutputs"] = list(request.additionalSecretOutputs)
            if request.HasField("hooks") and list(request.hooks.on_error):
                options["onErrorHooks"] = list(request.hooks.on_error)
            if request.version:
                options["version"] = request.version
            if request.retainOnDelete:
                options["retainOnDelete"] = True
            timeouts = request.customTimeouts
            if timeouts.create or timeouts.update or timeouts.delete:
                options["customTimeouts"] = {"create": timeouts.create,
                                             "update": timeouts.update,
                                             "delete": timeouts.delete}
            self.registrations.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    custom=bool(request.custom),
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    property_dependencies={
                        key: list(deps.urns) for key, deps in request.propertyDependencies.items()
                    },
                    inputs=_decode(raw),
                    options=options,
                )
            )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn.split("::")[2] == "pulumi:pulumi:Stack":
            raw = json_format.MessageToDict(request.outputs, preserving_proto_field_name=True)
            self.stack_outputs = _decode(raw)
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


class PreviewMocks(mocks.Mocks):
    """Like a preview: providers compute nothing, so their outputs stay unknown."""

    def __init__(self, fail_on: Mapping[str, str] | None = None) -> None:
        # Type token -> error message, to rehearse a provider refusing a create.
        self.fail_on = dict(fail_on or {})

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ in self.fail_on:
            raise RuntimeError(self.fail_on[args.typ])
        return "", dict(args.inputs)

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


@dataclass
class ProgramRun:
    registrations: list[Registration]
    outputs: dict[str, Any]
    messages: list[tuple[str, str]]

    def by_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_token]

    def one(self, type_token: str) -> Registration:
        found = self.by_type(type_token)
        if len(found) != 1:
            raise LookupError(f"expected one {type_token}, found {len(found)}")
        return found[0]

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.registrations}


class _MessageLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.INFO:
            self.messages.append((record.levelname.lower(), record.getMessage()))


def config_strings(config: Mapping[str, Any]) -> dict[str, str]:
    """Stack-file values as the engine hands them to a program: strings, objects as JSON."""
    import json

    return {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()
    }


def _execute(program: Path) -> None:
    runpy.run_path(str(program), run_name="__main__")


@contextmanager
def _event_loop() -> Iterator[None]:
    """A fresh event loop for one run, closed after it, with the loops of its worker threads.

    The SDK opens a loop on first use and never closes it, and its mock monitor opens one
    more in every executor thread it is called on. Left open, they are finalised at
    interpreter exit in no fixed order with their own self-pipes, and now and then the exit
    prints "Exception ignored in BaseEventLoop.__del__ ... Invalid file descriptor: -1".
    """
    worker_loops: list[asyncio.AbstractEventLoop] = []

    def open_worker_loop() -> None:
        # Opened here, the monitor's own check finds a loop and opens none.
        worker_loops.append(asyncio.new_event_loop())
        asyncio.set_event_loop(worker_loops[-1])

    loop = asyncio.new_event_loop()
    loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="asyncio",
                                                 initializer=open_worker_loop))
    asyncio.set_event_loop(loop)
    try:
        yield
    except BaseException:
        # The caller gets the run's error. The futures it failed (every output of every
        # resource that could not register) hold copies of it that nothing will await.
        loop.set_exception_handler(_report_all_but_unretrieved)
        raise
    finally:
        close_event_loop(loop)  # joins the worker threads first
        for worker_loop in worker_loops:
            worker_loop.close()


def _report_all_but_unretrieved(loop: asyncio.AbstractEventLoop,
                                context: dict[str, Any]) -> None:
    if not str(context.get("message", "")).endswith("exception was never retrieved"):
        loop.default_exception_handler(context)


def close_event_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is still pending on `loop`, close it, and leave the thread as a fresh
    interpreter has it: SDK code run afterwards (tests that call set_mocks themselves)
    gets a loop opened for it on first use."""
    try:
        # What a failed run leaves pending is cancelled first, as asyncio.run and the
        # SDK's own program runner (pulumi/automation/_server.py) do.
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
        asyncio.set_event_loop_policy(None)


def run_program(
    program: Path,
    *,
    project: str,
    stack_name: str,
    config: Mapping[str, Any],
    secret_keys: list[str] | None = None,
    preview: bool = True,
    program_mocks: mocks.Mocks | None = None,
    offline: bool = True,
) -> ProgramRun:
    """Execute `program` (a Pulumi `__main__.py`) under mocks with `config` (full keys).

    `offline` tells the program it runs offline: it opens no network connection (the
    preview-time check of the policy with Tailscale does not run). Only tests of that check
    rehearse a real preview with `offline=False`."""
    from ..resources.preview_check import offline as offline_run
    monitor = RecordingMonitor(program_mocks or PreviewMocks())
    logger = logging.getLogger(f"tailscale_cluster_access.offline.{id(monitor)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = _MessageLog()
    logger.addHandler(handler)
    # set_mocks registers a root stack already: its futures must belong to this run's loop.
    with _event_loop():
        try:
            mocks.set_mocks(
                monitor.mocks,
                project=project,
                stack=stack_name,
                preview=preview,
                logger=logger,
                monitor=monitor,
            )
            # The engine runs a program with its project's root (where Pulumi.yaml is) set.
            settings.SETTINGS.root_directory = str(program.resolve().parent)
            runtime_config.set_all_config(config_strings(config), secret_keys or [])
            settings.SETTINGS.outputs.clear()
            # set_mocks leaves a finished root stack behind; run in a fresh one so exports
            # land.
            settings.ROOT.set(None)
            with fewer_collections(), offline_run() if offline else nullcontext():
                _sync_await(stack.run_in_stack(lambda: _execute(program)))
        finally:
            # Output tasks a failed run leaves behind must not surface in the next run.
            settings.SETTINGS.outputs.clear()
            settings.SETTINGS.root_directory = None
            logger.removeHandler(handler)
            runtime_config.set_all_config({}, [])
            settings.ROOT.set(None)
    return ProgramRun(monitor.registrations, monitor.stack_outputs, handler.messages)
