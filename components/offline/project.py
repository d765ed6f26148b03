"""The project and its stack files, as the CLI reads them: Pulumi.yaml, Pulumi.<stack>.yaml,
the secrets they hold (redacted from everything printed), and where a plan may be written."""

import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.config import SECRET_VALUE_PATHS, is_secret_placeholder, namespace_config
from ..core.identifiers import Identifier
from ..core.safe_read import FileProblem, read_yaml

NAMESPACE = "tailscale-cluster-access"
# Other namespaces (provider config): keys that smell like credentials.
_SECRET_NAME = re.compile(r"secret|token|password|apikey|api_key|privatekey", re.IGNORECASE)
# The last part of a stack name (`org/project/` prefixes stripped).
STACK_NAME_PART = Identifier(r"[A-Za-z0-9_.-]+")
# Where `plan --out` must never write: it replaces the folder as a whole.
_PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")


class InputError(Exception):
    """Bad input from the user (exit 2); the message lists every problem."""


class Redactor:
    """Replaces known plaintext secrets in anything the CLI prints."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}

    def add(self, value: str, where: str) -> None:
        if value:
            self.secrets.setdefault(value, where)

    def __call__(self, text: str) -> str:
        # Longest first, so a secret that contains another is replaced whole.
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "[secret]")
        return text

    def leaks(self, files: Mapping[str, str]) -> list[str]:
        return [
            f"{name} (value of {where})"
            for name, text in sorted(files.items())
            for secret, where in self.secrets.items()
            if secret in text
        ]


# -- project and stack files ---------------------------------------------------------


@dataclass(frozen=True)
class Project:
    root: Path
    name: str
    stack_config_dir: Path
    program: Path


def _resolve(path: Path) -> Path:
    """`path.resolve()`, or the absolute path where symlinks loop (reported when it is read)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return Path(os.path.abspath(path))


def find_project(explicit: str | None) -> Project:
    """The folder holding Pulumi.yaml: `--project`, else the cwd or one of its parents."""
    if explicit:
        candidates = [_resolve(Path(explicit))]
    else:
        here = Path.cwd().resolve()
        candidates = [here, *here.parents]
    for folder in candidates:
        for filename in _PROJECT_FILES:
            # Not is_file(): a Pulumi.yaml that is a FIFO or a broken link is reported.
            if os.path.lexists(folder / filename):
                return _read_project(folder, folder / filename)
    where = candidates[0] if explicit else f"{candidates[0]} or any parent folder"
    raise InputError(
        f"no Pulumi.yaml in {where}. Run the command inside the project, or pass --project DIR."
    )


def _read_project(root: Path, path: Path) -> Project:
    try:
        document = read_yaml(path, what="project file") or {}
    except FileProblem as problem:
        raise InputError(str(problem)) from None
    if not isinstance(document, dict) or not isinstance(document.get("name"), str):
        raise InputError(f"{path}: expected a mapping with a `name:`.")
    config_dir = document.get("stackConfigDir") or "."
    main = document.get("main") or "."
    program = root / str(main)
    if program.is_dir():
        program = program / "__main__.py"
    if not program.is_file():
        raise InputError(f"{path}: the program {program} does not exist.")
    return Project(root, document["name"], root / str(config_dir), program)


@dataclass(frozen=True)
class StackFile:
    config: dict[str, Any]
    """`config:` with full keys (`<namespace>:<key>`), as Pulumi reads it."""
    environments: tuple[str, ...]
    """The Pulumi ESC environments the stack imports (`environment:`), which only the
    Pulumi CLI can open: their values are not in `config`."""

    def warnings(self, path: Path) -> list[str]:
        if not self.environments:
            return []
        return [f"{path.name} imports the Pulumi ESC environment(s) "
                f"{', '.join(self.environments)}: this offline plan cannot read them, so any "
                "config, kubeconfig or credentials they provide are missing here; "
                "`pulumi preview` opens them."]


def read_stack_file(path: Path, project: str, stack: str) -> StackFile:
    """The stack file's config and the ESC environments it imports."""
    try:
        document = read_yaml(path, what="stack config file")
    except FileProblem as problem:
        if problem.kind == "missing":
            raise InputError(
                f"{path}: stack config file not found. Create it (`pulumi stack init "
                f"{stack}` does) or pass --config FILE."
            ) from None
        raise InputError(str(problem)) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise InputError(
            f"{path}: expected a mapping with a `config:` key, found {type(document).__name__}."
        )
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise InputError(
            f"{path}: `config:` must map keys to values, found {type(config).__name__}."
        )
    full: dict[str, Any] = {}
    for key, value in config.items():
        name = str(key)
        full[name if ":" in name else f"{project}:{name}"] = value
    # Pulumi hands YAML dates and the like to the program as text.
    converted: dict[str, Any] = json.loads(json.dumps(full, default=str))
    imports = document.get("environment") or []
    if not isinstance(imports, list):
        raise InputError(f"{path}: `environment:` must list ESC environment names, found "
                         f"{type(imports).__name__}.")
    return StackFile(converted, tuple(str(name) for name in imports))


def contains_secure(value: Any) -> bool:
    """A `secure:` value anywhere inside (encrypted with the stack's key, unreadable here)."""
    if isinstance(value, Mapping):
        return is_secret_placeholder(value) or any(contains_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secure(item) for item in value)
    return False


def program_view(config: Mapping[str, Any], namespace: str = NAMESPACE) -> dict[str, Any]:
    """The namespace's keys as the program's config loader decodes them."""
    return namespace_config(config, namespace)


def _at_path(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def collect_plaintext_secrets(config: Mapping[str, Any], redact: Redactor) -> None:
    raw = program_view(config)
    # Plaintext values under these paths must never reach a plan file or the terminal.
    for path in SECRET_VALUE_PATHS:
        value = _at_path(raw, path)
        if isinstance(value, str):
            redact.add(value, f"{NAMESPACE}:{path}")
    for key, value in config.items():
        if (
            not key.startswith(f"{NAMESPACE}:")
            and _SECRET_NAME.search(key)
            and isinstance(value, str)
        ):
            redact.add(value, key)


@contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _not_plan_files(folder: Path) -> list[str]:
    """What in `folder` a plan does not write; a previous plan (or an empty folder) has none."""
    from .report import PLAN_FILES
    from .report.model import PLAN_MARKER

    return sorted(
        entry.name + ("/" if entry.is_dir() else "")
        for entry in os.scandir(folder)
        if entry.name not in (*PLAN_FILES, PLAN_MARKER)
        or not entry.is_file(follow_symlinks=False)
    )


def check_out_folder(
    out: Path, project: Project, config_path: Path, *, stack: str, flag: str = "--out"
) -> None:
    """`InputError` unless `plan` may replace `out`: missing, empty, or a previous plan (plan
    files and the plan marker only).

    Never a project source folder: the project root or any folder above it, the stack
    config folder, the program's folder, the `--config` file's folder, a folder with a
    Pulumi.yaml, a folder holding a file the plan reads (`check_out_inputs`).
    """
    from .report.model import PLAN_MARKER

    target = _resolve(out)
    root = _resolve(project.root)
    # Later entries win where folders coincide (e.g. `stackConfigDir: .`).
    protected = {parent: "a folder that contains the project" for parent in root.parents}
    protected[_resolve(config_path.parent)] = "the folder of the stack config file"
    protected[_resolve(project.program.parent)] = "the program's folder"
    protected[_resolve(project.stack_config_dir)] = "the stack config folder"
    protected[root] = "the project folder"
    advice = f"Pass a folder of its own, e.g. --out build/plan/{stack}."
    replaced = f"{flag} {out}: `plan` replaces its output folder as a whole"
    if target in protected:
        raise InputError(f"{replaced}, and this is {protected[target]}. {advice}")
    check_out_inputs(out, [config_path, project.program], flag=flag, stack=stack)
    try:
        if not os.path.lexists(out):
            return
        if not out.is_dir():
            raise InputError(f"{replaced}, and this is not a folder. {advice}")
        if any(os.path.lexists(target / name) for name in _PROJECT_FILES):
            raise InputError(f"{replaced}, and this one holds a Pulumi project. {advice}")
        foreign = _not_plan_files(target)
        unmarked = not os.path.isfile(target / PLAN_MARKER) and any(os.scandir(target))
    except OSError as error:
        raise InputError(f"{flag} {out}: cannot read the folder: {error.strerror}.") from None
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if foreign[3:] else "")
        raise InputError(
            f"{replaced}, and this one holds what is not a plan ({shown}). {advice} "
            "Or empty it first if nothing in it is needed."
        )
    if unmarked:
        raise InputError(
            f"{replaced}, and this one is not a previous plan (it has no {PLAN_MARKER}, which "
            f"every plan writes): its files may be written by hand. {advice} Or empty it "
            "first if nothing in it is needed."
        )


def check_out_inputs(out: Path, inputs: list[Path], *, flag: str, stack: str) -> None:
    """`InputError` when `out` holds (at any depth) a file the plan reads."""
    target = _resolve(out)
    held = sorted({str(path) for path in map(_resolve, inputs) if path.is_relative_to(target)})
    if held:
        raise InputError(
            f"{flag} {out}: `plan` replaces its output folder as a whole, and this one holds "
            f"{', '.join(held)}, which the plan reads. Pass a folder of its own, e.g. "
            f"--out build/plan/{stack}."
        )


def os_reason(target: Path, error: OSError) -> str:
    """Why writing `target` failed, in words: which folder is missing or is a file."""
    if isinstance(error, FileExistsError | NotADirectoryError | FileNotFoundError):
        for folder in Path(os.path.abspath(target)).parents:
            if os.path.lexists(folder):
                if not folder.is_dir():
                    return f"{folder} is not a folder"
                break
        if isinstance(error, FileNotFoundError):
            return f"the folder {target.parent} does not exist"
    return error.strerror or str(error)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def replace_file(target: Path, text: str, *, flag: str) -> None:
    """Replace `target` with `text` in one step; on error (`InputError`) it stays as it was.

    The staging file is created with O_EXCL (`mkstemp`) beside the target: a symlink planted
    at a predictable name is never followed, and `os.replace` replaces a symlink at `target`
    itself rather than the file it points to."""
    import tempfile

    try:
        fd, staging = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                       dir=target.parent)
    except OSError as error:
        raise InputError(f"{flag} {target}: cannot write there: {os_reason(target, error)}. "
                         "Nothing was written.") from None
    try:
        try:
            _write_all(fd, text.encode("utf-8"))
            os.fchmod(fd, 0o666 & ~_umask())
        finally:
            os.close(fd)
        os.replace(staging, target)
    except OSError as error:
        raise InputError(f"{flag} {target}: cannot write there: {os_reason(target, error)}. "
                         "Nothing was written.") from None
    finally:
        with suppress(FileNotFoundError):
            os.unlink(staging)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
