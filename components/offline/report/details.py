"""Value-level differences: policy section entries and Helm releases, as `path: old -> new`."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...core.policy.values import canonical

Show = Callable[[Any], str]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return canonical(value)


def _keyed(items: Sequence[Any]) -> dict[str, Any] | None:
    """List entries by their `src` (tests, grants), if every entry has a distinct one."""
    keyed: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, Mapping) or "src" not in item:
            return None
        src = item["src"]
        key = "src " + (", ".join(map(str, src)) if isinstance(src, list) else str(src))
        if key in keyed:
            return None
        keyed[key] = item
    return keyed


def value_changes(old: Any, new: Any, path: str = "", show: Show = str) -> list[str]:
    """One line per difference: `path: +added, -removed` for lists of names,
    `path: old -> new` otherwise; recursive through mappings and `src`-keyed lists."""
    if canonical(old) == canonical(new):
        return []
    where = f"{show(path)}: " if path else ""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        lines: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                lines.append(f"{show(sub)}: added {show(_scalar(new[key]))}")
            elif key not in new:
                lines.append(f"{show(sub)}: removed (was {show(_scalar(old[key]))})")
            else:
                lines += value_changes(old[key], new[key], sub, show)
        return lines
    if isinstance(old, list) and isinstance(new, list):
        old_keyed, new_keyed = _keyed(old), _keyed(new)
        if old_keyed is not None and new_keyed is not None:
            return value_changes(old_keyed, new_keyed, path, show)
        old_items = [_scalar(item) for item in old]
        new_items = [_scalar(item) for item in new]
        added = [item for item in new_items if item not in old_items]
        removed = [item for item in old_items if item not in new_items]
        parts = [f"added {', '.join(map(show, added))}"] if added else []
        parts += [f"removed {', '.join(map(show, removed))}"] if removed else []
        return [where + ("; ".join(parts) or "order changed")]
    return [f"{where}{show(_scalar(old))} -> {show(_scalar(new))}"]


def helm_changes(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]],
                 show: Show = str) -> list[str]:
    """Chart, version, repository and values of every Helm release, by release name.
    Secrets are already `[secret]` in the plan files, on both sides."""
    def by_name(releases: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
        return {f"{r.get('namespace', '')}/{r.get('release', '')}": r for r in releases}

    before, after = by_name(old), by_name(new)
    lines: list[str] = []
    for name in sorted(set(before) | set(after)):
        if name not in before:
            lines.append(f"added release {show(name)} (chart {show(after[name].get('chart'))} "
                         f"{show(after[name].get('version'))})")
            continue
        if name not in after:
            lines.append(f"removed release {show(name)}")
            continue
        for key in ("chart", "version", "repository"):
            if canonical(before[name].get(key)) != canonical(after[name].get(key)):
                lines.append(f"{show(name)}: chart {key} {show(_scalar(before[name].get(key)))}"
                             f" -> {show(_scalar(after[name].get(key)))}")
        lines += [f"{show(name)}: values {line}" for line in value_changes(
            before[name].get("values") or {}, after[name].get("values") or {}, "", show)]
    return lines
