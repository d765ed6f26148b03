"""`tailscale-cluster-access`: offline plans for reviewers, plan comparison, policy merging.

    tailscale-cluster-access plan --stack dev [--config FILE] [--out DIR] [--compare DIR]
    tailscale-cluster-access diff OLD_PLAN_DIR NEW_PLAN_DIR
    tailscale-cluster-access merge --base FILE FRAGMENT... [--out FILE]
    tailscale-cluster-access export-base --stack ORG/PROJECT/STACK (--live FILE | --fetch)
                                         [--out FILE]
    tailscale-cluster-access check POLICY [--json]
    tailscale-cluster-access who POLICY --dst TAG:PORT [--proto PROTO] [--json]
    tailscale-cluster-access verify (--stack S | --plan DIR) [--server URL] [--admin-kubeconfig
                                    FILE] [--public-endpoint URL] [--json]   (on the tailnet)

Exit codes: 0 ok, 2 invalid input (every problem listed), 1 anything else (for `verify`:
a difference from the plan, or the cluster could not be asked).
Pulumi is imported only by `plan`, so `--help` and the other commands start fast.
"""

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from ..core.safe_read import POLICY_MAX_BYTES, FileProblem, read_text
from .project import (
    STACK_NAME_PART,
    InputError,
    Project,
    Redactor,
    _resolve,
    _working_directory,
    check_out_folder,
    check_out_inputs,
    collect_plaintext_secrets,
    contains_secure,
    find_project,
    read_stack_file,
    replace_file,
)
from .project import (
    os_reason as _os_reason,
)

if TYPE_CHECKING:
    from .report.model import PlanData

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130


@dataclass
class Console:
    stdout: TextIO
    stderr: TextIO
    redact: Redactor = field(default_factory=Redactor)

    def out(self, text: str = "") -> None:
        self.stdout.write(self.redact(text) + ("" if text.endswith("\n") else "\n"))

    def err(self, text: str) -> None:
        self.stderr.write(self.redact(text) + ("" if text.endswith("\n") else "\n"))


# -- commands --------------------------------------------------------------------------


def stack_paths(stack: str, project_dir: str | None,
                config: str | None) -> tuple[str, Project, Path]:
    """`--stack`, `--project` and `--config` as (short stack name, project, stack file)."""
    short = stack.rsplit("/", 1)[-1]
    if not STACK_NAME_PART.match(short) or short in (".", ".."):
        raise InputError(
            f"--stack {stack!r}: a stack name has letters, digits, `-`, `_`, `.` "
            "(and is not `.` or `..`)."
        )
    project = find_project(project_dir)
    config_path = (
        _resolve(Path(config)) if config else (project.stack_config_dir / f"Pulumi.{short}.yaml")
    )
    return short, project, config_path


def _plan(args: argparse.Namespace, console: Console) -> int:
    from .report import model, render

    short, project, config_path = stack_paths(args.stack, args.project, args.config)
    out = _resolve(Path(args.out)) if args.out else project.root / "build" / "plan" / short
    check_out_folder(
        out, project, config_path, stack=short, flag="--out" if args.out else "the output folder"
    )
    # Read the plan to compare with first: `--compare` may name the folder being replaced.
    baseline = None
    if args.compare:
        from .report import compare  # only then: a plan without --compare need not import it

        baseline = compare.load_plan_dir(_resolve(Path(args.compare)))

    def check_inputs(config: Mapping[str, Any]) -> None:
        settings = config.get(f"{project.name}:policy")
        if isinstance(settings, Mapping) and isinstance(settings.get("base"), str):
            check_out_inputs(out, [project.root / settings["base"]], stack=short,
                             flag="--out" if args.out else "the output folder")

    plan, files = plan_files(project, config_path, short, console, check_inputs=check_inputs)
    comparison = None
    if baseline is not None:
        comparison = compare.compare_plans(baseline, compare.load_plan_files(files, out))
        # The reviewer reading summary.md sees who gains what, not only the new state.
        files[model.SUMMARY_FILE] += "\n" + compare.render_comparison(comparison).replace(
            "### Changes to stack", "### Changes since the compared plan: stack", 1)
    leaks = console.redact.leaks(files)
    if leaks:
        raise model.PlanError(
            "refusing to write the plan: a plaintext secret would appear in "
            + "; ".join(leaks)
            + "."
        )
    try:
        render.write_plan(files, out)
    except OSError as error:
        raise InputError(f"{'--out' if args.out else 'the output folder'} {out}: cannot write "
                         f"the plan: {_os_reason(out, error)}. The old output was kept.") from None

    shown = os.path.relpath(out) if out.is_relative_to(Path.cwd()) else str(out)
    count = len(plan.resources)
    console.out(
        f"Planned stack {short}: {count} resource{'s' * (count != 1)}, "
        f"{len(plan.access)} access row{'s' * (len(plan.access) != 1)}, "
        f"{len(plan.warnings)} warning{'s' * (len(plan.warnings) != 1)} -> {shown}/"
    )
    for warning in plan.warnings:
        console.err(f"warning: {warning}")
    if comparison is not None:
        console.out("")
        console.out(compare.render_comparison(comparison))
    return EXIT_OK


def plan_files(project: Project, config_path: Path, short: str, console: Console, *,
               check_inputs: Callable[[Mapping[str, Any]], None] | None = None,
               ) -> "tuple[PlanData, dict[str, str]]":
    """Run the stack program under the mocks: the plan and every plan file, not written.

    `check_inputs(config)` runs after the stack file is read, before the program."""
    from .report import render

    stack_file = read_stack_file(config_path, project.name, short)
    config = stack_file.config
    collect_plaintext_secrets(config, console.redact)
    if check_inputs is not None:
        check_inputs(config)

    import pulumi

    from ..core.base_policy import base_dirs_with
    from .report.build import build_plan
    from .runner import run_program

    secret_keys = sorted(key for key, value in config.items() if contains_secure(value))
    try:
        # The folder of the stack file may hold its base policy too (see core.base_policy).
        with _working_directory(project.root), base_dirs_with(config_path.parent):
            run = run_program(
                project.program,
                project=project.name,
                stack_name=short,
                config=config,
                secret_keys=secret_keys,
            )
    except pulumi.RunError as error:
        # The program's own input checks: the message lists the problems by config key.
        raise InputError(f"{error}\n(stack file: {config_path})") from None
    # Every file from what the run recorded: registrations, exports, logged warnings.
    plan = build_plan(run, stack=short, project=project.name)
    plan.base_name, plan.base_policy = _base_policy(config, project, config_path)
    # What the offline run could not see, before what it saw.
    plan.warnings[:0] = stack_file.warnings(config_path)
    return plan, render.render_files(plan)


def _base_policy(config: Mapping[str, Any], project: Project,
                 config_path: Path) -> tuple[str, str]:
    """The name and text of the base policy the program read (for `policy.diff`)."""
    from ..core.base_policy import load_base

    name, _, text, _ = load_base(config.get(f"{project.name}:policy"), project.root,
                                 extra_roots=[config_path.parent])
    return name, text


def _diff(args: argparse.Namespace, console: Console) -> int:
    from .report import compare

    old = compare.load_plan_dir(Path(args.old))
    new = compare.load_plan_dir(Path(args.new))
    console.out(compare.render_comparison(compare.compare_plans(old, new)))
    return EXIT_OK


def write_policy_file(target: Path, text: str) -> None:
    """Write `text` to `target` (`--out`) whole or not at all (`replace_file`)."""
    if target.is_dir():
        raise InputError(f"--out {target}: is a folder; name the policy file to write.")
    replace_file(target, text, flag="--out")


def _merge(args: argparse.Namespace, console: Console) -> int:
    from ..core.base_policy import base_problems
    from ..core.policy import hujson
    from ..core.policy.compose import compose
    from ..core.policy.merge import MergeError

    problems: list[str] = []

    texts: dict[str, str] = {}

    def parse(path: str, *, is_base: bool = False) -> hujson.PolicyDocument | None:
        try:
            text = texts[path] = read_text(path, what="policy file", max_bytes=POLICY_MAX_BYTES)
        except FileProblem as problem:
            missing = problem.kind == "missing"
            problems.append(f"{path}: file not found." if missing else str(problem))
            return None
        if not text.strip():
            if is_base:
                problems.append(f"{path}: the base policy is empty; merged into nothing, every "
                                "rule of the live policy would be dropped. Fix: export the live "
                                "policy into it; to replace the whole policy on purpose, write "
                                "{} in it.")
                return None
            return hujson.PolicyDocument({})
        try:
            document = hujson.parse(text, path)
        except hujson.HujsonError as error:
            problems.append(str(error))
            return None
        found = base_problems(document.data, path)
        problems.extend(problem.render() for problem in found)
        return None if found else document

    if not args.base.strip():
        raise InputError("--base: is empty; name the base policy file (HuJSON).")
    base = parse(args.base, is_base=True)
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
    # A fragment file's stem names it in the "added by" comments (prod.hujson: "prod").
    composed = compose(texts.get(args.base, ""), fragments, base=base, base_source=args.base,
                       labels={name: Path(name).stem or name for name, _ in fragments})
    if composed.conflicts:
        raise InputError(f"{MergeError(composed.conflicts)}\nNothing was written.")
    if composed.problems:
        count = len(composed.problems)
        raise InputError("\n".join([
            f"The merged policy would be refused by Tailscale ({count} problem"
            f"{'s' * (count != 1)}); nothing was written:",
            *(f"  - {problem.render()}" for problem in composed.problems),
        ]))
    for warning in composed.warnings + composed.format_notes:
        console.err(f"warning: {warning}")
    # The same file TailnetPolicy writes, ownership record for the drift check included.
    text = composed.text
    if args.out:
        target = Path(args.out)
        write_policy_file(target, text)
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
        "tailnet policy merging; checking any tailnet policy file.",
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

    from .check import add_commands as add_policy_commands
    from .export_base import add_command
    from .verify import add_command as add_verify_command

    add_command(commands, common)
    add_policy_commands(commands, common)
    add_verify_command(commands, common)
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


def console_main() -> NoReturn:
    """The `tailscale-cluster-access` command: `main`, without the interpreter's teardown."""
    from .fast_exit import exit_without_teardown

    exit_without_teardown(main())


def _main(argv: Sequence[str] | None, console: Console) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        # argparse exits for --help (0) and usage errors (2).
        return exit_.code if isinstance(exit_.code, int) else EXIT_INVALID
    handler: Callable[[argparse.Namespace, Console], int] = args.handler
    from .gc_tuning import fewer_collections
    from .report.model import PlanError, PlanFolderError

    try:
        # What a command builds stays alive until it ends: rescanning it finds little.
        with fewer_collections():
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
