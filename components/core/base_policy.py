"""The base policy file: the rest of the tailnet policy, that other teams wrote."""

from pathlib import Path

from .policy import hujson
from .problems import Problem
from .safe_read import POLICY_MAX_BYTES, FileProblem, read_text


def parse_base_text(text: str) -> tuple[hujson.PolicyDocument | None, str, list[Problem]]:
    """Parse `policy.baseText`; problems name that key."""
    try:
        return hujson.parse(text, "policy.baseText"), text, []
    except hujson.HujsonError as error:
        return None, text, [Problem("policy.baseText", f"is not valid HuJSON: {error}")]


def read_base_policy(
    path_text: str, project_root: Path
) -> tuple[hujson.PolicyDocument | None, str, list[Problem]]:
    """Read `policy.base` (relative to the project root); problems name that key."""
    if not path_text:
        return None, "", []
    if "\x00" in path_text:
        return None, "", [Problem("policy.base", "holds a NUL character, which no file name can.",
                                  "give the path of a HuJSON file.")]
    path = Path(path_text)
    if not path.is_absolute():
        path = project_root / path
    try:
        text = read_text(path, what="base policy file", max_bytes=POLICY_MAX_BYTES)
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
    try:
        document = hujson.parse(text, path_text)
    except hujson.HujsonError as error:
        return (
            None,
            text,
            [
                Problem(
                    "policy.base",
                    f"is not valid HuJSON: {error}",
                    "fix the file; the policy editor in the admin console shows the same position.",
                )
            ],
        )
    return document, text, []


def _shown(path_text: str) -> str:
    return path_text.encode("unicode_escape").decode("ascii")
