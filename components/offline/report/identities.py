"""Access per identity: the members of a group get what the group's row gets.

An access row names a tailnet source; a reviewer needs the people behind it. `groups` of
the policy file the plan writes (the stack's groups merged into the base) says who is in
each `group:`; any other source (a user, a tag, an autogroup) is its own identity.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...core.kubernetes_rights import sensitive_rights
from .model import comparable

DIRECT = "direct"

Via = dict[str, dict[str, Any]]
"""Source an identity's access comes through -> that source's access row."""


def row_rights(row: Mapping[str, Any]) -> list[str]:
    """A row's `sensitiveRights`, or (plans made before they were recorded) its roles'."""
    rights = row.get("sensitiveRights")
    if isinstance(rights, list):
        return [str(item) for item in rights]
    roles = row.get("clusterRoles")
    return sensitive_rights(str(r) for r in roles if r) if isinstance(roles, list) else []


def group_members(policy: Mapping[str, Any], group: str) -> list[str]:
    groups = policy.get("groups")
    members = groups.get(group) if isinstance(groups, Mapping) else None
    return [str(m) for m in members] if isinstance(members, list) else []


def identity_access(rows: Sequence[Mapping[str, Any]],
                    policy: Mapping[str, Any]) -> dict[str, Via]:
    """Identity (prefixed `<cluster>: ` in a fleet plan) -> source -> access row."""
    result: dict[str, Via] = {}
    for row in rows:
        src = str(row.get("src"))
        prefix = f"{row['cluster']}: " if "cluster" in row else ""
        members = group_members(policy, src) if src.startswith("group:") else [src]
        for member in members:
            result.setdefault(prefix + member, {})[prefix + src] = dict(row)
    return {key: result[key] for key in sorted(result)}


def rights_of(via: Via) -> list[str]:
    return sorted({right for row in via.values() for right in row_rights(row)})


def _vias(via: Via, rights: set[str]) -> list[str]:
    return sorted(src for src, row in via.items() if rights & set(row_rights(row)))


def _src_name(src: str) -> str:
    return src.split(": ", 1)[-1]


@dataclass(frozen=True)
class IdentityChange:
    identity: str
    gained: tuple[str, ...]
    lost: tuple[str, ...]
    notes: tuple[str, ...]
    """How the path changed: `added to group:x`, `group:x: clusterRoles view -> edit`, ..."""
    gained_via: tuple[str, ...] = ()
    lost_via: tuple[str, ...] = ()


def _membership(identity: str, src: str, old_policy: Mapping[str, Any],
                new_policy: Mapping[str, Any]) -> tuple[bool, bool]:
    name, group = _src_name(identity), _src_name(src)
    if not group.startswith("group:"):
        return name == group, name == group
    return name in group_members(old_policy, group), name in group_members(new_policy, group)


def identity_changes(old_rows: Sequence[Mapping[str, Any]], old_policy: Mapping[str, Any],
                     new_rows: Sequence[Mapping[str, Any]], new_policy: Mapping[str, Any],
                     fields: Sequence[str], show: Any = str) -> list[IdentityChange]:
    """Every identity whose access differs, with the rights it gains and loses and why."""
    old, new = identity_access(old_rows, old_policy), identity_access(new_rows, new_policy)
    changes: list[IdentityChange] = []
    for identity in sorted(set(old) | set(new)):
        before, after = old.get(identity, {}), new.get(identity, {})
        notes: list[str] = []
        for src in sorted(set(before) | set(after)):
            was, now = _membership(identity, src, old_policy, new_policy)
            if src in after and src not in before:
                origin = _origin(after[src], show)
                if now and not was:
                    notes.append(f"added to {show(_src_name(src))}")
                elif _src_name(identity) == _src_name(src):
                    notes.append(origin or "new access")
                else:
                    notes.append(f"new access via {show(_src_name(src))}"
                                 + (f": {origin}" if origin else ""))
            elif src in before and src not in after:
                notes.append(f"removed from {show(_src_name(src))}" if was and not now
                             else f"no access via {show(_src_name(src))} any more")
            else:
                for key in fields:
                    if key in ("src", "sensitiveRights") or not comparable(
                            key, before[src], after[src]):
                        continue
                    old_value, new_value = before[src].get(key), after[src].get(key)
                    if old_value != new_value:
                        notes.append(f"{show(_src_name(src))}: {key} {show(old_value)} -> "
                                     f"{show(new_value)}")
        if not notes:
            continue
        old_rights, new_rights = set(rights_of(before)), set(rights_of(after))
        gained, lost = new_rights - old_rights, old_rights - new_rights
        changes.append(IdentityChange(
            identity, tuple(sorted(gained)), tuple(sorted(lost)), tuple(notes),
            tuple(_src_name(s) for s in _vias(after, gained)),
            tuple(_src_name(s) for s in _vias(before, lost))))
    return changes


def _origin(row: Mapping[str, Any], show: Any) -> str:
    """Who wrote the rules behind a row (`base grants[0]`), "" for rows without origin."""
    origin = row.get("origin")
    return ", ".join(show(str(item)) for item in origin) if isinstance(origin, list) else ""


def describe(change: IdentityChange, show: Any = str) -> str:
    """`mallory@evil.example gains cluster-admin, ... via group:x (added to group:x)`;
    `autogroup:member gains cluster-admin, ... (base grants[0])` for a source itself."""
    parts = []
    itself = (_src_name(change.identity),)
    if change.gained:
        via = "" if change.gained_via == itself else \
            f" via {', '.join(map(show, change.gained_via))}"
        parts.append(f"gains {', '.join(map(show, change.gained))}{via}")
    if change.lost:
        via = "" if change.lost_via == itself else \
            f" (was via {', '.join(map(show, change.lost_via))})"
        parts.append(f"loses {', '.join(map(show, change.lost))}{via}")
    if not parts:
        parts.append("access changes, same sensitive rights")
    return f"{show(change.identity)} {'; '.join(parts)} ({'; '.join(change.notes)})"
