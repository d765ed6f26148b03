"""Which entries of the live policy this stack wrote last time: the ownership marker.

The drift check compares the live policy with the policy about to be written. Entries the
stack itself generated last time (a group whose members changed, an access rule removed, a
fleet cluster moved from pending to member) are not drift, but a program under a real engine
cannot read its previous outputs. So the written policy carries its own record: comment lines

    // tailscale-cluster-access owns: 3f2a9c0e1b7d4a66 0c9e...

list a digest of each entry the stack generated (entries of the written policy that the base
policy does not have; identities as `drift.policy_items` gives them). Tailscale keeps comments
in the stored policy file, so the next preview finds the record in the live policy. A lost
live entry whose digest is in the record was written by the stack and is its own change; any
other lost entry (a rule added in the admin console, or an entry of the stack edited there,
whose digest no longer matches) is drift. Base entries are never owned: removing one from
`policy.base` while it is still live remains drift.

Old marker lines are dropped when rendering (an exported base may carry them), so the written
policy always carries exactly one record.
"""

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from .drift import policy_items

__all__ = ["MARKER", "digest", "mark_owned", "marked_digests", "owned_digests",
           "with_ownership_marker"]

MARKER: Final = "// tailscale-cluster-access owns:"
_PER_LINE: Final = 6
_MARKER_LINE: Final = re.compile(r"^[ \t]*//[ \t]*tailscale-cluster-access owns:.*(?:\r?\n|$)",
                                 re.MULTILINE)
_DIGEST: Final = re.compile(r"\b[0-9a-f]{16}\b")


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


def mark_owned(text: str, written: Mapping[str, Any], base: Mapping[str, Any] | None) -> str:
    """The policy file as written: `text` (the rendered `written` policy) with the record of
    the entries the stack owns beyond `base` on top."""
    return with_ownership_marker(text, owned_digests(written, base))


def marked_digests(text: str) -> set[str]:
    """The digests recorded in a policy file's ownership marker lines (none: empty)."""
    found: set[str] = set()
    for line in _MARKER_LINE.findall(text):
        found.update(_DIGEST.findall(line.split("owns:", 1)[1]))
    return found
