"""Top-level sections of a tailnet policy, looked up the way Tailscale reads them.

Tailscale parses the policy with Go's encoding/json, which matches keys without regard to
case: older policies write `"ACLs"`, `"TagOwners"` or `"Groups"`, and they mean `acls`,
`tagOwners` and `groups`.
"""

from collections.abc import Mapping
from typing import Any


def section_key(policy: Mapping[str, Any], name: str) -> str | None:
    """The spelling `policy` uses for the section `name`, if it has one."""
    if name in policy:
        return name
    lowered = name.lower()
    for key in policy:
        if isinstance(key, str) and key.lower() == lowered:
            return key
    return None


def section(policy: Mapping[str, Any] | None, name: str) -> Any:
    """The value of section `name` in `policy`, whatever its key's case; None if absent."""
    if not policy:
        return None
    key = section_key(policy, name)
    return None if key is None else policy[key]


def case_clashes(policy: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Pairs of top-level keys that differ only in case (Tailscale would read one of them)."""
    first: dict[str, str] = {}
    clashes: list[tuple[str, str]] = []
    for key in policy:
        earlier = first.setdefault(key.lower(), key)
        if earlier != key:
            clashes.append((earlier, key))
    return clashes
