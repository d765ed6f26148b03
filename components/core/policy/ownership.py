"""Which entries of the live policy this stack wrote last time: the ownership marker.

The drift check compares the live policy with the policy about to be written. Entries the
stack itself generated last time (a group whose members changed, an access rule removed, a
fleet cluster moved from pending to member) are not drift, but a program under a real engine
cannot read its previous outputs. So the written policy carries its own record: comment lines

    // tailscale-cluster-access owns: acme/tailscale-cluster-access/prod 3f2a9c0e1b7d4a66 ...

name the writer (the stack, `<organization>/<project>/<stack>`) and list a digest of each
entry it generated (entries of the written policy that the base policy does not have;
identities as `drift.policy_items` gives them). Tailscale keeps comments in the stored policy
file, so the next preview finds the record in the live policy. A lost live entry whose digest
is on a line naming this stack was written by it and is its own change; an entry on another
writer's line (a second stack writing the same tailnet, a fleet's tailnet stack) is drift
naming that writer, and so is any other lost entry (a rule added in the admin console, or an
entry of the stack edited there, whose digest no longer matches). Lines that name no writer
(written before writers were recorded) are trusted by no one. Base entries are never owned:
removing one from `policy.base` while it is still live remains drift.

Old marker lines are dropped when rendering (an exported base may carry them), so the written
policy always carries exactly one record.
"""

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from .drift import WHOLE_SECTIONS, list_item, map_item, policy_items, section_item

__all__ = ["MARKER", "digest", "mark_owned", "owned_digests",
           "records", "with_ownership_marker", "with_writer", "without_owned"]

MARKER: Final = "// tailscale-cluster-access owns:"
_PER_LINE: Final = 6
_MARKER_LINE: Final = re.compile(r"^[ \t]*//[ \t]*tailscale-cluster-access owns:.*(?:\r?\n|$)",
                                 re.MULTILINE)
_DIGEST: Final = re.compile(r"\b[0-9a-f]{16}\b")
# A writer: `<organization>/<project>/<stack>`, as Pulumi names a stack in full.
WRITER: Final = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
UNNAMED: Final = ""
"""The writer of marker lines that name none (written before writers were recorded)."""


def digest(item: str) -> str:
    """A short digest of one item identity; reveals nothing readable of the entry."""
    return hashlib.sha256(item.encode()).hexdigest()[:16]


def owned_digests(written: Mapping[str, Any], base: Mapping[str, Any] | None) -> list[str]:
    """Digests of the entries of `written` that the base policy does not have, sorted."""
    generated = policy_items(written) - policy_items(base or {})
    return sorted({digest(item) for item in generated})


def strip_marker(text: str) -> str:
    return _MARKER_LINE.sub("", text)


def with_ownership_marker(text: str, digests: Iterable[str]) -> str:
    """`text` (a rendered policy file) with one ownership record at its top."""
    listed = list(digests)
    lines = [f"{MARKER} {' '.join(listed[i:i + _PER_LINE])}"
             for i in range(0, len(listed), _PER_LINE)] or [f"{MARKER} (nothing)"]
    return "\n".join(lines) + "\n" + strip_marker(text)


def with_writer(text: str, writer: str) -> str:
    """`text` with every ownership marker line naming `writer` (`<org>/<project>/<stack>`),
    the stack that writes it: only its own lines are its record."""
    if not WRITER.match(writer):
        raise ValueError(f"not a writer name: {writer!r}")

    def named(match: re.Match[str]) -> str:
        line = match.group(0)
        head, _, rest = line.partition("owns:")
        body = rest.rstrip("\r\n")
        words = body.split()
        if words and WRITER.match(words[0]):
            words = words[1:]
        return f"{head}owns: {writer} {' '.join(words)}{rest[len(body):]}"

    return _MARKER_LINE.sub(named, text)


def mark_owned(text: str, written: Mapping[str, Any], base: Mapping[str, Any] | None) -> str:
    """The policy file as written: `text` (the rendered `written` policy) with the record of
    the entries the stack owns beyond `base` on top."""
    return with_ownership_marker(text, owned_digests(written, base))


def records(text: str) -> dict[str, set[str]]:
    """Writer -> the digests its marker lines in `text` record (`UNNAMED` for lines that
    name no writer)."""
    found: dict[str, set[str]] = {}
    for line in _MARKER_LINE.findall(text):
        words = line.split("owns:", 1)[1].split()
        writer = words[0] if words and WRITER.match(words[0]) else UNNAMED
        found.setdefault(writer, set()).update(_DIGEST.findall(" ".join(words)))
    return found


def without_owned(policy: Mapping[str, Any], owned: set[str]) -> dict[str, Any]:
    """`policy` without the entries whose digests are in `owned` (items as
    `drift.policy_items` names them); a section left empty by that is dropped."""
    kept: dict[str, Any] = {}
    for key, value in policy.items():
        lower = key.lower()
        if isinstance(value, list):
            entries = [entry for entry in value if digest(list_item(lower, entry)) not in owned]
            if entries or not value:
                kept[key] = entries
        elif isinstance(value, Mapping) and lower not in WHOLE_SECTIONS:
            members = {name: member for name, member in value.items()
                       if digest(map_item(lower, name, member)) not in owned}
            if members or not value:
                kept[key] = members
        elif digest(section_item(lower, value)) not in owned:
            kept[key] = value
    return kept
