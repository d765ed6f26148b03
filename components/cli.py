"""`tailscale-cluster-access`: offline plans for reviewers, plan comparison, policy merging.

    tailscale-cluster-access plan --stack dev [--config FILE] [--out DIR] [--compare DIR]
    tailscale-cluster-access diff OLD_PLAN_DIR NEW_PLAN_DIR
    tailscale-cluster-access merge --base FILE FRAGMENT... [--out FILE]

Exit codes: 0 ok, 2 invalid input (every problem listed), 1 anything else.
Pulumi is imported only by `plan`, so `--help`, `diff` and `merge` start fast.
"""

import argparse
import json
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .safe_read import POLICY_MAX_BYTES, FileProblem, read_text, read_yaml
from .validation import SECRET_VALUE_PATHS, is_secret_placeholder, namespace_config

NAMESPACE = "tailscale-cluster-access"
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130

# Other namespaces (provider config): keys that smell like credentials.
_SECRET_NAME = re.compile(r"secret|token|password|apikey|api_key|privatekey", re.IGNORECASE)
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
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


@dataclass
class Console:
    stdout: TextIO
    stderr: TextIO
    redact: Redactor = field(default_factory=Redactor)

    def out(self, text: str = "") -> None:
        self.stdout.write(self.redact(text) + ("" if text.endswith("\n") else "\n"))

    def err(self, text: str) -> None:
        self.stderr.write(self.redact(text) + ("" if text.endswith("\n") else "\n"))


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
    except (OSError, RuntimeError):
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


def read_stack_config(path: Path, project: str, stack: str) -> dict[str, Any]:
    """The stack file's `config:` with full keys (`<namespace>:<key>`), as Pulumi reads it."""
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
    return converted


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
    """What in `folder` a plan does not write; a previous plan (or an empty folder) has none.

    A plan is recognised by its file names alone, so plans written by earlier versions are
    replaced too (an older version may have written fewer files, never others).
    """
    from .report import PLAN_FILES

    return sorted(
        entry.name + ("/" if entry.is_dir() else "")
        for entry in os.scandir(folder)
        if entry.name not in PLAN_FILES or not entry.is_file(follow_symlinks=False)
    )


def check_out_folder(
    out: Path, project: Project, config_path: Path, *, stack: str, flag: str = "--out"
) -> None:
    """`InputError` unless `plan` may replace `out`: missing, empty, or a previous plan.

    Never a project source folder: the project root or any folder above it, the stack
    config folder, the program's folder, the `--config` file's folder, a folder with a
    Pulumi.yaml.
    """
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
    try:
        if not os.path.lexists(out):
            return
        if not out.is_dir():
            raise InputError(f"{replaced}, and this is not a folder. {advice}")
        if any(os.path.lexists(target / name) for name in _PROJECT_FILES):
            raise InputError(f"{replaced}, and this one holds a Pulumi project. {advice}")
        foreign = _not_plan_files(target)
    except OSError as error:
        raise InputError(f"{flag} {out}: cannot read the folder: {error.strerror}.") from None
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if foreign[3:] else "")
        raise InputError(
            f"{replaced}, and this one holds what is not a plan ({shown}). {advice} "
            "Or empty it first if nothing in it is needed."
        )


# -- commands --------------------------------------------------------------------------


def _plan(args: argparse.Namespace, console: Console) -> int:
    from .cluster_plan import plan_cluster
    from .problems import InvalidConfig
    from .report import compare, model, render

    stack: str = args.stack
    short = stack.rsplit("/", 1)[-1]
    if not _STACK_NAME.match(short) or short in (".", ".."):
        raise InputError(
            f"--stack {stack!r}: a stack name has letters, digits, `-`, `_`, `.` "
            "(and is not `.` or `..`)."
        )
    project = find_project(args.project)
    config_path = (
        _resolve(Path(args.config))
        if args.config
        else (project.stack_config_dir / f"Pulumi.{short}.yaml")
    )
    out = _resolve(Path(args.out)) if args.out else project.root / "build" / "plan" / short
    check_out_folder(
        out, project, config_path, stack=short, flag="--out" if args.out else "the output folder"
    )
    # Read the plan to compare with first: `--compare` may name the folder being replaced.
    baseline = compare.load_plan_dir(_resolve(Path(args.compare))) if args.compare else None

    config = read_stack_config(config_path, project.name, short)
    collect_plaintext_secrets(config, console.redact)
    try:
        cluster_plan = plan_cluster(
            program_view(config),
            project.root,
            prefix=f"{NAMESPACE}:",
            subject=f"configuration of stack '{short}' ({config_path})",
        )
    except InvalidConfig as error:
        raise InputError(error.render()) from None

    # Pulumi only now: validation errors above come back fast.
    import pulumi

    from .offline import run_program
    from .report.build import build_plan

    secret_keys = sorted(key for key, value in config.items() if contains_secure(value))
    try:
        with _working_directory(project.root):
            run = run_program(
                project.program,
                project=project.name,
                stack_name=short,
                config=config,
                secret_keys=secret_keys,
            )
    except pulumi.RunError as error:
        # The program's own input checks: the message lists the problems by config key.
        raise InputError(str(error)) from None
    plan = build_plan(run, stack=short, project=project.name, warnings=cluster_plan.warnings)
    files = render.render_files(plan)
    leaks = console.redact.leaks(files)
    if leaks:
        raise model.PlanError(
            "refusing to write the plan: a plaintext secret would appear in "
            + "; ".join(leaks)
            + "."
        )
    render.write_plan(files, out)

    shown = os.path.relpath(out) if out.is_relative_to(Path.cwd()) else str(out)
    count = len(plan.resources)
    console.out(
        f"Planned stack {short}: {count} resource{'s' * (count != 1)}, "
        f"{len(plan.access)} access row{'s' * (len(plan.access) != 1)}, "
        f"{len(plan.warnings)} warning{'s' * (len(plan.warnings) != 1)} -> {shown}/"
    )
    for warning in plan.warnings:
        console.err(f"warning: {warning}")
    if baseline is not None:
        comparison = compare.compare_plans(baseline, compare.load_plan_dir(out))
        console.out("")
        console.out(compare.render_comparison(comparison))
    return EXIT_OK


def _diff(args: argparse.Namespace, console: Console) -> int:
    from .report import compare

    old = compare.load_plan_dir(Path(args.old))
    new = compare.load_plan_dir(Path(args.new))
    console.out(compare.render_comparison(compare.compare_plans(old, new)))
    return EXIT_OK


def _merge(args: argparse.Namespace, console: Console) -> int:
    from .policy import hujson
    from .policy.merge import MergeError, merge_policies

    problems: list[str] = []

    def parse(path: str) -> hujson.PolicyDocument | None:
        try:
            text = read_text(path, what="policy file", max_bytes=POLICY_MAX_BYTES)
        except FileProblem as problem:
            missing = problem.kind == "missing"
            problems.append(f"{path}: file not found." if missing else str(problem))
            return None
        if not text.strip():
            return hujson.PolicyDocument({})
        try:
            return hujson.parse(text, path)
        except hujson.HujsonError as error:
            problems.append(str(error))
            return None

    base = parse(args.base)
    fragments: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for path in args.fragments:
        if path in seen:
            problems.append(f"{path}: given twice.")
            continue
        seen.add(path)
        document = parse(path)
        if document is not None:
            fragments.append((path, document.data))
    if problems:
        raise InputError(
            "\n".join(
                [
                    f"Cannot merge ({len(problems)} problem"
                    f"{'s' * (len(problems) != 1)}); nothing was written:",
                    *(f"  - {problem}" for problem in problems),
                ]
            )
        )
    assert base is not None
    try:
        merged = merge_policies(base.data, fragments)
    except MergeError as error:
        raise InputError(f"{error}\nNothing was written.") from None
    text = base.dumps(merged)
    if args.out:
        target = Path(args.out)
        if target.is_dir():
            raise InputError(f"--out {target}: is a folder; name the policy file to write.")
        staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            staging.write_text(text, encoding="utf-8", newline="\n")
            staging.replace(target)
        finally:
            staging.unlink(missing_ok=True)
        console.err(
            f"Merged {len(fragments)} fragment{'s' * (len(fragments) != 1)} into "
            f"{args.base} -> {target}"
        )
    else:
        console.stdout.write(text)
    return EXIT_OK


# -- entry point -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tailscale-cluster-access",
        description="Offline, secret-free plans of the stack for reviewers; plan comparison; "
        "tailnet policy merging.",
        epilog="Exit codes: 0 ok, 2 invalid input (every problem listed), 1 anything else.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", help="show a traceback for unexpected errors"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plan = commands.add_parser(
        "plan",
        parents=[common],
        help="write an offline plan of one stack",
        description="Run the stack program under Pulumi's mocks (no CLI, no credentials) and "
        "write policy.hujson, manifests.yaml, helm-values.yaml, resources.json, "
        "access.json, access.md, graph.mmd and summary.md.",
    )
    plan.add_argument("--stack", required=True, help="stack name, e.g. dev")
    plan.add_argument(
        "--config",
        metavar="FILE",
        help="stack config file (default: <stackConfigDir>/Pulumi.<stack>.yaml)",
    )
    plan.add_argument(
        "--out",
        metavar="DIR",
        help="output folder, replaced as a whole; it must be missing, empty or a previous "
        "plan (default: build/plan/<stack>)",
    )
    plan.add_argument(
        "--project",
        metavar="DIR",
        help="project folder with Pulumi.yaml (default: found from the cwd up)",
    )
    plan.add_argument(
        "--compare", metavar="DIR", help="also print what changed since the plan in DIR"
    )
    plan.set_defaults(handler=_plan)

    diff = commands.add_parser(
        "diff",
        parents=[common],
        help="explain what changed between two plan folders",
        description="Access rows, policy sections and resources that were added, removed or "
        "changed, as markdown.",
    )
    diff.add_argument("old", metavar="OLD_DIR", help="the earlier plan (e.g. the base branch)")
    diff.add_argument("new", metavar="NEW_DIR", help="the later plan")
    diff.set_defaults(handler=_diff)

    merge = commands.add_parser(
        "merge",
        parents=[common],
        help="merge HuJSON policy fragments into a base policy",
        description="Merge fragments (e.g. the policyFragment of each cluster) into a base "
        "tailnet policy file; conflicts are all listed and nothing is written.",
    )
    merge.add_argument("--base", required=True, metavar="FILE", help="base policy (HuJSON)")
    merge.add_argument("fragments", nargs="+", metavar="FRAGMENT", help="fragment files")
    merge.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    merge.set_defaults(handler=_merge)
    return parser


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    console = Console(stdout or sys.stdout, stderr or sys.stderr)
    try:
        return _main(argv, console)
    except KeyboardInterrupt:
        # Ctrl-C: one line, no traceback; write_plan leaves the old output folder as it was.
        with suppress(KeyboardInterrupt):
            console.err("interrupted")
        return EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None, console: Console) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        # argparse exits for --help (0) and usage errors (2).
        return exit_.code if isinstance(exit_.code, int) else EXIT_INVALID
    handler: Callable[[argparse.Namespace, Console], int] = args.handler
    from .report.model import PlanError, PlanFolderError

    try:
        return handler(args, console)
    except InputError as error:
        console.err(str(error))
        return EXIT_INVALID
    except PlanFolderError as error:
        console.err(f"error: {error}")
        return EXIT_INVALID
    except PlanError as error:
        console.err(f"error: {error}")
        return EXIT_ERROR
    except Exception as error:
        if args.debug:
            console.err(traceback.format_exc())
        first_line = (str(error).strip().splitlines() or [""])[0]
        console.err(
            f"error: {type(error).__name__}: {first_line}"
            + ("" if args.debug else " (run with --debug for a traceback)")
        )
        return EXIT_ERROR
