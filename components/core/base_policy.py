"""The base policy file: the rest of the tailnet policy, that other teams wrote.

A base comes with the pull request like the stack file, and whatever it holds is copied into
the plan: so it is read only from inside the project (see `allowed_roots`), and it must look
like a tailnet policy, with no string that looks like a credential.
"""

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .identifiers import secret_shape
from .policy import hujson
from .policy.sections import case_clashes
from .problems import Problem
from .safe_read import POLICY_MAX_BYTES, FileProblem, read_text

# Top-level sections of a tailnet policy file, compared case-insensitively as Tailscale does
# ("ACLs" is "acls"). Sources: Tailscale's "Syntax reference for the tailnet policy file"
# (tailscale.com/docs/reference/syntax/policy-file, validated 2026-04-08: grants, acls, ssh,
# autoApprovers, nodeAttrs, postures, tagOwners, groups, hosts, ipsets, tests, sshTests, and
# the network-wide options), "ACL syntax" (kb/1337: derpMap, disableIPv4,
# randomizeClientPort), "Device posture" (defaultSrcPosture) and the tailnet-wide options
# OneCGNATRoute and attrConfig.
POLICY_SECTIONS = frozenset(name.lower() for name in (
    "acls", "grants", "groups", "hosts", "tagOwners", "autoApprovers", "ssh", "nodeAttrs",
    "postures", "defaultSrcPosture", "tests", "sshTests", "ipsets", "derpMap", "disableIPv4",
    "OneCGNATRoute", "randomizeClientPort", "attrConfig",
))

# Folders (os.pathsep-separated) the reviewer's environment adds; never a stack-file key.
BASE_DIRS_ENV = "TAILSCALE_CLUSTER_ACCESS_BASE_DIRS"

BASE_ROOTS_RULE = ("a base policy is read only from inside the project (where Pulumi.yaml is), "
                   "the folder of the stack file, the git work tree that holds the project, or "
                   f"a folder named in {BASE_DIRS_ENV}; symlinks are followed")


@contextmanager
def base_dirs_with(folder: Path) -> Iterator[None]:
    """Within: `folder` is one of the folders named in BASE_DIRS_ENV (the offline CLI names
    the folder of its `--config` file for the program it runs)."""
    previous = os.environ.get(BASE_DIRS_ENV)
    os.environ[BASE_DIRS_ENV] = os.pathsep.join(
        [str(folder.resolve()), *([previous] if previous else [])])
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(BASE_DIRS_ENV, None)
        else:
            os.environ[BASE_DIRS_ENV] = previous


def git_work_tree(folder: Path) -> Path | None:
    """The git work tree holding `folder` (the nearest folder with a `.git`), if any."""
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate / ".git"):
            return candidate
    return None


def allowed_roots(project_root: Path | None, extra: Sequence[Path] = ()) -> list[Path]:
    """The folders a base policy may be read from, symlinks resolved (without a project
    folder: only the named ones)."""
    named = [Path(text) for text in os.environ.get(BASE_DIRS_ENV, "").split(os.pathsep)
             if os.path.isabs(text)]
    roots = [folder.resolve() for folder in (*extra, *named)]
    if project_root is None:
        return roots
    root = project_root.resolve()
    tree = git_work_tree(root)
    return [root, *roots, *([tree] if tree is not None else [])]


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}" if path else str(key), str(key)
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def _shown_path(path: str) -> str:
    return _shown(path if len(path) <= 120 else path[:117] + "...")


def base_problems(data: Any, key: str) -> list[Problem]:
    """What makes `data` (a parsed base) unfit to be copied into the plan; names `key`."""
    if not isinstance(data, dict):
        return [Problem(key, "is not a tailnet policy: its top level is not an object.",
                        "point it at an export of the tailnet policy file.")]
    problems: list[Problem] = []
    unknown = sorted(str(name) for name in data if str(name).lower() not in POLICY_SECTIONS)
    if unknown:
        shown = ", ".join(f'"{_shown_path(name)}"' for name in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        problems.append(Problem(
            key, f"is not a tailnet policy: unknown top-level section{'s' * (len(unknown) > 1)} "
            f"{shown}{more}.",
            "point it at an export of the tailnet policy file (sections such as acls, grants, "
            "groups, tagOwners, tests)."))
    for first, second in case_clashes(data):
        problems.append(Problem(
            key, f'has both "{_shown_path(first)}" and "{_shown_path(second)}"; Tailscale reads '
            "keys without regard to case, so it would see only one of them.",
            "merge them into one section."))
    for where, text in _strings(data, ""):
        kind = secret_shape(text)
        if kind:
            problems.append(Problem(
                key, f"holds a string that looks like {kind} at {_shown_path(where)} (not "
                "shown).", "a tailnet policy holds no credentials: remove it from the file."))
    return problems


def parse_base(text: str, key: str, *, source: str = "", fix: str = ""
               ) -> tuple[hujson.PolicyDocument | None, list[Problem]]:
    """A base policy's text as a document, or the problems naming `key`: not HuJSON (`fix`
    says what to do; `source` names the text in the parser's position), or not a policy
    fit to copy into the plan (`base_problems`)."""
    try:
        document = hujson.parse(text, source or key)
    except hujson.HujsonError as error:
        return None, [Problem(key, f"is not valid HuJSON: {error}", fix)]
    problems = base_problems(document.data, key)
    return (None if problems else document), problems


def parse_base_text(text: str) -> tuple[hujson.PolicyDocument | None, str, list[Problem]]:
    """Parse `policy.baseText`; problems name that key."""
    document, problems = parse_base(text, "policy.baseText")
    return document, text, problems


def load_base(settings: Any, project_root: Path | None, *, text_key: str = "baseText",
              extra_roots: Sequence[Path] = ()
              ) -> tuple[str, hujson.PolicyDocument | None, str, list[Problem]]:
    """The base policy the `policy` settings name: (how to call it, document, text, problems).

    A path (`base`) is read from the file; without one, non-blank text (`baseText`, or
    `base_text` in component args) is parsed. Neither: no base."""
    settings = settings if isinstance(settings, Mapping) else {}
    path = settings.get("base")
    if isinstance(path, str) and path:
        return (path, *read_base_policy(path, project_root, extra_roots))
    text = settings.get(text_key)
    if isinstance(text, str) and text.strip():
        return ("policy.baseText", *parse_base_text(text))
    return "policy.base", None, "", []


def read_base_policy(
    path_text: str, project_root: Path | None, extra_roots: Sequence[Path] = ()
) -> tuple[hujson.PolicyDocument | None, str, list[Problem]]:
    """Read `policy.base` (relative to the project root); problems name that key.

    The file must resolve inside `allowed_roots(project_root, extra_roots)`. `project_root`
    None: the caller's project folder is unknown (a component run from a Pulumi package)."""
    if not path_text:
        return None, "", []
    if "\x00" in path_text:
        return None, "", [Problem("policy.base", "holds a NUL character, which no file name can.",
                                  "give the path of a HuJSON file.")]
    path = Path(path_text)
    if not path.is_absolute():
        if project_root is None:
            return None, "", [Problem(
                "policy.base", f'"{_shown(path_text)}" is relative, and a component run from '
                "a Pulumi package (`pulumi package add`) cannot know your project's folder: "
                "the package runs in its own.",
                "pass the file's text as policy.baseText instead (TypeScript: "
                f'`fs.readFileSync("{_shown(path_text)}", "utf8")`; YAML: '
                f"`fn::readFile: {_shown(path_text)}`).")]
        path = project_root / path
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError, ValueError):
        resolved = Path(os.path.abspath(path))  # a symlink loop: read_text says so
    if not any(resolved.is_relative_to(root)
               for root in allowed_roots(project_root, extra_roots)):
        return None, "", [Problem(
            "policy.base", f'"{_shown(path_text)}" resolves to {_shown(str(resolved))}, '
            f"outside the project: {BASE_ROOTS_RULE}.",
            "copy the exported policy into the project and point policy.base at the copy.")]
    try:
        # The resolved path: a symlink swapped after the check is not followed again.
        text = read_text(resolved, what="base policy file", max_bytes=POLICY_MAX_BYTES)
    except FileProblem as error:
        if error.kind != "missing":
            return None, "", [Problem("policy.base", f'"{_shown(path_text)}" cannot be used: '
                                      f"{error.reason}.", "point it at a HuJSON file.")]
        return (
            None,
            "",
            [
                Problem(
                    "policy.base",
                    f'"{path_text}" does not exist (looked in {path.parent}).',
                    "give a path relative to the project root (where Pulumi.yaml "
                    "is), or export the live policy there first.",
                )
            ],
        )
    document, problems = parse_base(
        text, "policy.base", source=path_text,
        fix="fix the file; the policy editor in the admin console shows the same position.")
    return document, text, problems


def _shown(path_text: str) -> str:
    return path_text.encode("unicode_escape").decode("ascii")
