"""The base policy file: the rest of the tailnet policy, that other teams wrote."""

from pathlib import Path

from .policy import hujson
from .problems import Problem

TEXT_PREFIX = "\0text:"


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
    if path_text.startswith(TEXT_PREFIX):
        # policy.baseText: the base policy itself.
        return parse_base_text(path_text[len(TEXT_PREFIX):])
    path = Path(path_text)
    if not path.is_absolute():
        path = project_root / path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
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
    except (OSError, UnicodeDecodeError) as error:
        return None, "", [Problem("policy.base", f'"{path_text}" cannot be read: {error}.')]
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
