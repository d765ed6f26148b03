"""What writing a policy would take away from the live tailnet policy ("drift").

`tailscale.Acl` replaces the whole policy file on every update, so anything another team
added in the admin console after `policy.base` was exported is deleted by the next write.
`lost_entries(live, written)` names every such entry. Entries that only `written` has are
additions, not drift.

Comparison follows how Tailscale reads the file (Go's encoding/json, as the clients and the
provider do):

- Top-level keys, and the field names inside struct-like values (list entries such as an
  ACL or grant, `autoApprovers`, `derpMap`), match case-insensitively: a live `"ACLs"` is
  the written `"acls"`. When one object spells a key twice in different cases, objects are
  merged key by key and anything else is taken from the later spelling.
- Names in the maps (`groups`, `tagOwners`, `hosts`, `postures`, `ipsets`, the routes and
  services of `autoApprovers`, unknown sections) are case-sensitive map keys.
- List sections (`acls`, `grants`, `ssh`, `tests`, `nodeAttrs`, ...): each live entry must
  be in the written list, deep-equal with object key order ignored.
- Map sections: each live name must be in the written map with the same value; owner,
  member and posture lists are compared as sets. `autoApprovers` lists are unioned by the
  merge, so only approvers missing from the written list count.
- Other top-level keys must be present and equal; a missing key whose live value is the
  zero value (`false`, `0`, `""`, `null`) means the same to Tailscale and is not drift.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from .values import canonical, key_path, same_value, shown

__all__ = ["WHOLE_SECTIONS", "lost_entries", "lost_items", "policy_items"]

# Sections that are Go structs, not maps: their field names match case-insensitively.
_STRUCT_SECTIONS: Final = frozenset({"autoapprovers", "derpmap"})
# Sections whose items are compared as one whole value for ownership.
WHOLE_SECTIONS: Final = _STRUCT_SECTIONS
_SHOW_MAX: Final = 200


class _Missing:
    pass


_MISSING: Final = _Missing()


def _show(value: Any) -> str:
    return "(removed)" if value is _MISSING else shown(value, _SHOW_MAX)


def _fold(data: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """Keys folded to lower case -> (first spelling, value), the way encoding/json merges
    duplicate spellings of one struct field: objects key by key, anything else replaced."""
    folded: dict[str, tuple[str, Any]] = {}
    for key, value in data.items():
        lower = key.lower()
        if lower not in folded:
            folded[lower] = (key, value)
            continue
        spelling, earlier = folded[lower]
        if isinstance(earlier, Mapping) and isinstance(value, Mapping):
            value = {**earlier, **value}
        folded[lower] = (spelling, value)
    return folded


def _entry_key(entry: Any) -> str:
    """Identity of a list entry: deep value, key order ignored, field names case-folded."""
    if isinstance(entry, Mapping):
        entry = {lower: value for lower, (_, value) in _fold(entry).items()}
    return canonical(entry)


def _is_zero(value: Any) -> bool:
    return value is None or value is False or value == "" or (
        isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0)


def _changed(path: str, live: Any, written: Any) -> str:
    return f"{path}: {_show(live)} -> {_show(written)}"


def list_item(section: str, entry: Any) -> str:
    """Identity of one entry of a list section (`section` folded to lower case)."""
    return f"{section}[]{_entry_key(entry)}"


def map_item(section: str, name: str, value: Any) -> str:
    """Identity of one named entry of a map section, member lists as sets."""
    if isinstance(value, list):
        value = sorted(canonical(x) for x in value)
    return f"{section}[{name}]{canonical(value)}"


def section_item(section: str, value: Any) -> str:
    """Identity of a whole section compared as one value (struct sections, scalars)."""
    return f"{section}={canonical(value)}"


def policy_items(policy: Mapping[str, Any]) -> set[str]:
    """Every item of `policy` under the identities `lost_items` gives lost items."""
    items: set[str] = set()
    for lower, (_, value) in _fold(policy).items():
        if isinstance(value, list):
            items.update(list_item(lower, entry) for entry in value)
        elif isinstance(value, Mapping) and lower not in WHOLE_SECTIONS:
            items.update(map_item(lower, name, member) for name, member in value.items())
        else:
            items.add(section_item(lower, value))
    return items


def _lost_list(path: str, live: list[Any], written: Any) -> Iterator[tuple[str, str]]:
    lower = path.lower()
    whole = section_item(lower, live)
    if written is _MISSING:
        written = []
    if not isinstance(written, list):
        yield whole, _changed(path, live, written)
        return
    kept = {_entry_key(entry) for entry in written}
    reported: set[str] = set()
    for entry in live:
        key = _entry_key(entry)
        if key not in kept and key not in reported:
            reported.add(key)
            yield list_item(lower, entry), f"{path}: {_show(entry)}"


def _lost_map(path: str, live: Mapping[str, Any], written: Any,
              struct: bool) -> Iterator[tuple[str, str]]:
    lower = path.lower()
    whole = section_item(lower, live)
    if written is _MISSING:
        written = {}
    if not isinstance(written, Mapping):
        yield whole, _changed(path, live, written)
        return
    if struct:
        have = _fold(written)
        pairs = [(name, value, have.get(lower, (name, _MISSING))[1])
                 for lower, (name, value) in _fold(live).items()]
    else:
        pairs = [(name, value, written.get(name, _MISSING)) for name, value in live.items()]
    for name, value, other in pairs:
        item = whole if struct else map_item(lower, name, value)
        if other is _MISSING:
            if not (struct and _is_zero(value)):
                yield item, _changed(key_path(path, name), value, other)
        elif not same_value(value, other):
            yield item, _changed(key_path(path, name), value, other)


def _lost_approvers(path: str, live: Any, written: Any) -> Iterator[str]:
    # The merge unions approvers, so only approvers that would disappear are drift.
    if isinstance(live, list) and (written is _MISSING or isinstance(written, list)):
        kept = {canonical(x) for x in written} if isinstance(written, list) else set()
        if any(canonical(x) not in kept for x in live):
            yield _changed(path, live, written)
    elif isinstance(live, Mapping) and (written is _MISSING or isinstance(written, Mapping)):
        other: Mapping[str, Any] = written if isinstance(written, Mapping) else {}
        for name, value in live.items():
            yield from _lost_approvers(key_path(path, name), value, other.get(name, _MISSING))
    elif written is _MISSING:
        if not _is_zero(live):
            yield _changed(path, live, written)
    elif not same_value(live, written):
        yield _changed(path, live, written)


def _lost_section(lower: str, name: str, live: Any, written: Any) -> Iterator[tuple[str, str]]:
    whole = section_item(lower, live)
    if isinstance(live, list):
        yield from _lost_list(name, live, written)
    elif isinstance(live, Mapping) and lower == "autoapprovers":
        if written is not _MISSING and not isinstance(written, Mapping):
            yield whole, _changed(name, live, written)
            return
        have = _fold(written) if isinstance(written, Mapping) else {}
        for field_lower, (field, value) in _fold(live).items():
            other = have.get(field_lower, (field, _MISSING))[1]
            for lost in _lost_approvers(key_path(name, field), value, other):
                yield whole, lost
    elif isinstance(live, Mapping):
        yield from _lost_map(name, live, written, struct=lower in _STRUCT_SECTIONS)
    elif written is _MISSING:
        if not _is_zero(live):
            yield whole, _changed(name, live, written)
    elif not same_value(live, written):
        yield whole, _changed(name, live, written)


def lost_entries(live: Mapping[str, Any], written: Mapping[str, Any]) -> list[str]:
    """Every entry of the `live` policy that writing `written` would drop or change.

    Each item is a short description naming the section, e.g.
    `acls: {"action": "accept", "src": ["group:sre"], "dst": ["tag:ci:22"]}` or
    `groups["group:sre"]: ["carol@example.com"] -> ["dave@example.com"]`; in live order.
    """
    return [description for _, description in lost_items(live, written)]


def lost_items(live: Mapping[str, Any], written: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`lost_entries` with each live item's identity (as `policy_items` names it) first:
    a list entry, a named map entry, or a whole struct/scalar section."""
    have = _fold(written)
    lost: list[tuple[str, str]] = []
    for lower, (name, value) in _fold(live).items():
        lost.extend(_lost_section(lower, name, value, have.get(lower, (name, _MISSING))[1]))
    return lost
