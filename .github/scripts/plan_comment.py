#!/usr/bin/env python3
"""Build the offline-plan pull-request comment from the `plan` artifact, as data only.

Runs in `.github/workflows/plan-comment.yml` from the base branch's checkout, never from the
pull request's code: standard library only, nothing from the artifact is imported or executed.
Every file in the artifact was written by a job that ran the pull request's code, so every
byte of it is untrusted:

- text goes into fenced code blocks whose fence is longer than any run of backticks in the
  text, so nothing inside can close the fence, render as Markdown or HTML, or mention anyone;
- `<!--` is broken up (and with it the comment's own marker), control and bidi characters
  are replaced, line endings are normalised;
- the pull-request number must be a plain integer, stack names must be plain names, symlinks
  and oversized files are refused, and the comment stays under GitHub's 65536-character limit.

    python3 plan_comment.py --artifact DIR --out comment.md [--head-sha SHA] [--run-url URL]

Prints the validated pull-request number on stdout. Exit codes: 0 ok, 2 unusable artifact.

Artifact layout (written by `.github/workflows/plan.yml`):

    pr-number              the pull request's number
    test-outcome           outcome of `make test` (success, failure, ...)
    head/<stack>/          plan of the pull request (summary.md, access.json, ...)
    base/<stack>/          plan of the base branch, made with the base branch's code
    compare/<stack>.txt    stdout of `plan --compare` (the comparison with the base plan)
    log/<stack>.txt        stderr of the pull request's `plan`
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

MARKER = "<!-- tailscale-cluster-access-plan -->"
# GitHub refuses comment bodies over 65536 characters; stay well below, counting UTF-8 bytes
# (never fewer than characters).
MAX_BODY = 60_000
MAX_FILE_BYTES = 1_000_000  # read at most this much of any file
MAX_STACKS = 20
MIN_BLOCK = 400  # smallest useful excerpt of a block when space runs out

_PR_NUMBER = re.compile(r"[1-9][0-9]{0,9}")
_STACK = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_SHA = re.compile(r"[0-9a-f]{40}")
_RUN_URL = re.compile(r"https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/actions/runs/[0-9]+")
_OUTCOMES = {"success": "passed", "failure": "failed", "cancelled": "cancelled",
             "skipped": "skipped"}
_BACKTICKS = re.compile(r"`+")
# Bidirectional overrides and isolates (Trojan Source), zero-width and BOM characters.
_INVISIBLE = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF],
    "\N{REPLACEMENT CHARACTER}",
)


class ArtifactError(Exception):
    """The artifact cannot be used at all (no valid pull-request number)."""


# -- reading untrusted files ------------------------------------------------------------


def _safe_path(root: Path, *parts: str) -> Path | None:
    """`root/parts…` if it is a regular file (or folder) inside root, reached without symlinks."""
    path = root
    for part in parts:
        path = path / part
        if path.is_symlink():
            return None
    try:
        path.resolve().relative_to(root.resolve())
    except (OSError, ValueError):
        return None
    return path


def read_text(root: Path, *parts: str) -> str | None:
    """The file's text (at most MAX_FILE_BYTES), or None if it is missing or not a plain file."""
    path = _safe_path(root, *parts)
    if path is None or not path.is_file():
        return None
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    text = data[:MAX_FILE_BYTES].decode("utf-8", errors="replace")
    if len(data) > MAX_FILE_BYTES:
        text += "\n[file cut at 1 MB]"
    return text


def clean(text: str) -> str:
    """Untrusted text made inert: line endings, control/invisible characters, `<!--`."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(
        char if char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cf", "Cs")
        else "\N{REPLACEMENT CHARACTER}"
        for char in text.translate(_INVISIBLE)
    )
    # Breaks every HTML comment opener, and with it any copy of the marker.
    return text.replace("<!--", "< !--")


def size(text: str) -> int:
    return len(text.encode("utf-8"))


def cut(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes of text, with a note when something was cut."""
    if size(text) <= limit:
        return text
    note = "\n[… cut; the whole file is in the `plan` artifact]"
    keep = max(0, limit - size(note))
    return text.encode("utf-8")[:keep].decode("utf-8", errors="ignore") + note


def fence(text: str, limit: int) -> str:
    """A fenced code block holding untrusted text that it cannot close or escape."""
    body = cut(clean(text), limit).rstrip("\n")
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{body}\n{ticks}"


# -- the artifact ------------------------------------------------------------------------


def read_pr_number(root: Path) -> int:
    text = read_text(root, "pr-number")
    if text is None:
        raise ArtifactError("the artifact has no pr-number file")
    value = text.strip()
    if not _PR_NUMBER.fullmatch(value):
        raise ArtifactError("pr-number is not a positive integer")
    return int(value)


def stack_names(root: Path) -> tuple[list[str], int]:
    """Valid stack names found in the artifact (sorted, capped) and how many were refused."""
    names: set[str] = set()
    refused = 0
    for folder, suffix in (("head", ""), ("base", ""), ("compare", ".txt"), ("log", ".txt")):
        path = _safe_path(root, folder)
        if path is None or not path.is_dir():
            continue
        for entry in path.iterdir():
            name = entry.name
            if suffix:
                if not name.endswith(suffix):
                    refused += 1
                    continue
                name = name[: -len(suffix)]
            if _STACK.fullmatch(name) and not entry.is_symlink():
                names.add(name)
            else:
                refused += 1
    ordered = sorted(names)
    refused += max(0, len(ordered) - MAX_STACKS)
    return ordered[:MAX_STACKS], refused


def load_access(root: Path, side: str, stack: str) -> list[dict[str, Any]] | None:
    text = read_text(root, side, stack, "access.json")
    if text is None:
        return None
    try:
        rows = json.loads(text)
    except ValueError:
        return None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        return None
    return rows


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_value(item) for item in value) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "":
        return "-"
    return str(value)


_COLUMNS = ("src", "endpoint", "ports", "kubernetesGroups", "clusterRoles", "recorded",
            "enforced", "posture", "kind", "origin")
# Row fields newer than some plans: absent on one side is no change.
_LATER_FIELDS = frozenset({"events", "kind", "origin", "broad"})
_ADMIN = "cluster-admin"


def _admin_gained(before: dict[str, Any] | None, after: dict[str, Any]) -> str | None:
    """`<src> gains cluster-admin (<origin>)` when the row newly carries it."""

    def admin(row: dict[str, Any] | None) -> bool:
        rights = row.get("sensitiveRights") if row is not None else None
        roles = row.get("clusterRoles") if row is not None else None
        return (isinstance(rights, list) and _ADMIN in rights) or (
            rights is None and isinstance(roles, list) and _ADMIN in roles)

    if not admin(after) or admin(before):
        return None
    origin = after.get("origin")
    whose = f" ({_value(origin)})" if isinstance(origin, list) and origin else ""
    return f"! {_value(after.get('src'))} gains {_ADMIN}{whose}"


def access_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text access matrix (goes inside a fence). Identities are shown in full."""
    lines = []
    for row in rows:
        fields = [f"{key}={_value(row.get(key))}" for key in _COLUMNS[1:]]
        extra = sorted(set(row) - set(_COLUMNS))
        fields += [f"{key}={_value(row[key])}" for key in extra]
        lines.append(f"{_value(row.get('src'))}: " + "; ".join(fields))
    return "\n".join(lines) or "(no access rows)"


def access_changes(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> str:
    """What changed in the access matrix, computed here from the two access.json files."""

    def key(row: dict[str, Any]) -> tuple[str, str]:
        return (_value(row.get("src")), _value(row.get("endpoint")))

    before = {key(row): row for row in old}
    after = {key(row): row for row in new}
    lines = [gained for name in sorted(after)
             if (gained := _admin_gained(before.get(name), after[name])) is not None]
    for name in sorted(after.keys() - before.keys()):
        lines.append(f"+ added   {access_table([after[name]])}")
    for name in sorted(before.keys() - after.keys()):
        lines.append(f"- removed {access_table([before[name]])}")
    for name in sorted(before.keys() & after.keys()):
        a, b = before[name], after[name]
        for field in sorted(set(a) | set(b)):
            if field in _LATER_FIELDS and (field not in a or field not in b):
                continue
            if a.get(field) != b.get(field):
                lines.append(
                    f"~ {name[0]} -> {name[1]}: {field} "
                    f"{_value(a.get(field))} -> {_value(b.get(field))}"
                )
    return "\n".join(lines) or "no change"


# -- the comment -------------------------------------------------------------------------


def _stack_section(root: Path, stack: str, budget: int) -> str:
    """One stack's section within `budget` bytes (fences shrink until it fits)."""
    head_summary = read_text(root, "head", stack, "summary.md")
    head_access = load_access(root, "head", stack)
    base_access = load_access(root, "base", stack)
    compare = read_text(root, "compare", stack + ".txt")
    log = read_text(root, "log", stack + ".txt")
    planned = head_summary is not None or head_access is not None

    status = "planned" if planned else ":x: the plan failed (or its files are missing)"
    blocks: list[tuple[str, str, bool]] = []  # (title, untrusted text, collapsed)
    if head_access is not None and base_access is not None:
        blocks.append(("Access changes (computed from access.json of both plans)",
                       access_changes(base_access, head_access), False))
        blocks.append(("Access matrix of this pull request (access.json)",
                       access_table(head_access), True))
    elif head_access is not None:
        blocks.append(("Access (no base plan of this stack to compare with)",
                       access_table(head_access), False))
    elif planned:
        blocks.append(("Access", "access.json is missing or not a list of rows", False))
    if compare is not None:
        blocks.append(("Output of `plan --compare` (from the pull request's code)",
                       compare, False))
    if head_summary is not None:
        blocks.append(("Full summary.md", head_summary, True))
    else:
        blocks.append(("summary.md", "summary.md is missing from the artifact", False))
    if log is not None and (log.strip() or not planned):
        blocks.append(("Log (stderr of `plan`)", log, planned))

    def render(limit: int) -> str:
        out = [f"### Stack `{stack}`: {status}", ""]
        for title, text, collapsed in blocks:
            block = fence(text, limit)
            if collapsed:
                out += [f"<details><summary>{title}</summary>", "", block, "", "</details>", ""]
            else:
                out += [f"**{title}**", "", block, ""]
        return "\n".join(out)

    limit = max(MIN_BLOCK, budget)
    section = render(limit)
    while size(section) > budget and limit > MIN_BLOCK:
        limit = max(MIN_BLOCK, limit * 2 // 3)
        section = render(limit)
    if size(section) > budget:
        section = (f"### Stack `{stack}`: {status}\n\n_No room left in this comment; "
                   "see the `plan` artifact._\n")
    return section


def build_comment(root: Path, head_sha: str | None = None, run_url: str | None = None) -> str:
    stacks, refused = stack_names(root)
    outcome = clean((read_text(root, "test-outcome") or "").strip())
    tests = _OUTCOMES.get(outcome, "unknown")
    sha = head_sha if head_sha and _SHA.fullmatch(head_sha) else None
    url = run_url if run_url and _RUN_URL.fullmatch(run_url) else None

    intro = [MARKER, "## Offline plan", ""]
    made = "Made without credentials: values only providers compute show as `[unknown]`."
    intro.append(f"Commit `{sha}`. {made}" if sha else made)
    intro += ["", f"`make test`: **{tests}**." + (f" [Workflow run]({url})." if url else ""),
              "", "Everything in code blocks below was produced by the pull request's own "
              "code and is shown as plain text; review the change itself, not only this "
              "comment.", ""]
    if refused:
        intro += [f"_{refused} entr{'y' if refused == 1 else 'ies'} of the artifact with an "
                  "invalid name or beyond the stack limit were ignored._", ""]
    if not stacks:
        intro += ["_The artifact holds no plan of any stack._", ""]
    footer = "\n---\n_Whole plans: the `plan` artifact of the workflow run._\n"

    body = "\n".join(intro)
    for index, stack in enumerate(stacks):
        remaining = MAX_BODY - size(body) - size(footer) - 8
        share = remaining // (len(stacks) - index)
        body += "\n---\n\n" + _stack_section(root, stack, max(0, share))
    body += footer
    if size(body) > MAX_BODY:  # cannot happen by construction; never post an oversized body
        body = "\n".join([*intro, "_The plan is too large for a comment; see the `plan` "
                          "artifact._", ""])
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", required=True, type=Path, help="downloaded artifact folder")
    parser.add_argument("--out", required=True, type=Path, help="where to write the comment")
    parser.add_argument("--head-sha", help="the run's head commit (from the event, not the "
                        "artifact)")
    parser.add_argument("--run-url", help="link to the workflow run that made the artifact")
    args = parser.parse_args(argv)
    try:
        number = read_pr_number(args.artifact)
    except ArtifactError as error:
        print(f"plan_comment: {error}", file=sys.stderr)
        return 2
    args.out.write_text(build_comment(args.artifact, args.head_sha, args.run_url),
                        encoding="utf-8")
    print(number)
    return 0


if __name__ == "__main__":
    sys.exit(main())
