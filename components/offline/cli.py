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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..core.config import SECRET_VALUE_PATHS, is_secret_placeholder, namespace_config

NAMESPACE = "tailscale-cluster-access"
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INVALID = 2

# Other namespaces (provider config): keys that smell like credentials.
_SECRET_NAME = re.compile(r"secret|token|password|apikey|api_key|privatekey", re.IGNORECASE)
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


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


def find_project(explicit: str | None) -> Project:
    """The folder holding Pulumi.yaml: `--project`, else the cwd or one of its parents."""
    if explicit:
        candidates = [Path(explicit).resolve()]
    else:
        here = Path.cwd().resolve()
        candidates = [here, *here.parents]
    for folder in candidates:
        for filename in ("Pulumi.yaml", "Pulumi.yml"):
            if (folder / filename).is_file():
                return _read_project(folder, folder / filename)
    where = candidates[0] if explicit else f"{candidates[0]} or any parent folder"
    raise InputError(
        f"no Pulumi.yaml in {where}. Run the command inside the project, or pass --project DIR."
    )


def _read_project(root: Path, path: Path) -> Project:
    import yaml

    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_yaml_loader()) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise InputError(f"{path}: cannot read the project file: {_yaml_problem(error)}") from None
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


def _yaml_loader() -> Any:
    import yaml

    # libyaml's safe loader when PyYAML was built with it: several times faster on big stacks.
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml_problem(error: BaseException) -> str:
    # Never echo the offending line: it may hold a plaintext secret.
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or type(error).__name__
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem) if hasattr(error, "problem") else str(error)


def read_stack_config(path: Path, project: str, stack: str) -> dict[str, Any]:
    """The stack file's `config:` with full keys (`<namespace>:<key>`), as Pulumi reads it."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"{path}: stack config file not found. Create it (`pulumi stack init "
            f"{stack}` does) or pass --config FILE."
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read the stack config file: {error}") from None
    try:
        document = yaml.load(text, Loader=_yaml_loader())
    except yaml.YAMLError as error:
        raise InputError(f"{path}: not valid YAML: {_yaml_problem(error)}") from None
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


# -- commands --------------------------------------------------------------------------


def _plan(args: argparse.Namespace, console: Console) -> int:
    from ..core.cluster_plan import plan_cluster
    from ..core.problems import InvalidConfig
    from .report import compare, model, render

    stack: str = args.stack
    short = stack.rsplit("/", 1)[-1]
    if not _STACK_NAME.match(short):
        raise InputError(f"--stack {stack!r}: a stack name has letters, digits, `-`, `_`, `.`.")
    project = find_project(args.project)
    config_path = (
        Path(args.config).resolve()
        if args.config
        else (project.stack_config_dir / f"Pulumi.{short}.yaml")
    )
    out = Path(args.out).resolve() if args.out else project.root / "build" / "plan" / short
    # Read the plan to compare with first: `--compare` may name the folder being replaced.
    baseline = compare.load_plan_dir(Path(args.compare).resolve()) if args.compare else None

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

    from .report.build import build_plan
    from .runner import run_program

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
    from ..core.policy import hujson
    from ..core.policy.merge import MergeError, merge_policies

    problems: list[str] = []

    def parse(path: str) -> hujson.PolicyDocument | None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            problems.append(f"{path}: file not found.")
            return None
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{path}: cannot read: {error}")
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
    from ..core.policy.ownership import owned_digests, with_ownership_marker

    # The same file TailnetPolicy writes, ownership record for the drift check included.
    text = with_ownership_marker(base.dumps(merged), owned_digests(merged, base.data))
    if args.out:
        target = Path(args.out)
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
        help="output folder, replaced as a whole (default: build/plan/<stack>)",
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
    except KeyboardInterrupt:
        console.err("interrupted")
        return 130
    except Exception as error:
        if args.debug:
            console.err(traceback.format_exc())
        first_line = (str(error).strip().splitlines() or [""])[0]
        console.err(
            f"error: {type(error).__name__}: {first_line}"
            + ("" if args.debug else " (run with --debug for a traceback)")
        )
        return EXIT_ERROR
