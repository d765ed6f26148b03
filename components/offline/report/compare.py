"""What changed between two plan folders, in a reviewer's terms (not a text diff)."""

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...core.policy import hujson
from ...core.policy.values import canonical
from ...core.safe_read import (
    PLAN_MAX_BYTES,
    FileProblem,
    load_json,
    load_yaml_documents,
    read_text,
)
from . import model
from .details import helm_changes, value_changes
from .identities import IdentityChange, describe, identity_changes, row_rights
from .markdown import code, text, unescape
from .model import PlanFolderError, short_type


@dataclass(frozen=True)
class LoadedPlan:
    path: Path
    stack: str
    access: list[dict[str, Any]]
    policy: dict[str, Any]
    resources: list[dict[str, Any]]
    warnings: tuple[str, ...] = ()
    helm: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class FieldChange:
    src: str
    field: str
    old: Any
    new: Any

    def describe(self) -> str:
        if self.field == "sensitiveRights":
            old, new = set(_names(self.old)), set(_names(self.new))
            parts = [f"{verb} {', '.join(map(text, sorted(names)))}"
                     for verb, names in (("gained", new - old), ("lost", old - new)) if names]
            return f"{text(self.src)}: sensitiveRights {'; '.join(parts)}"
        return f"{text(self.src)}: {text(self.field)} {_value(self.old)} -> {_value(self.new)}"


def _names(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


@dataclass(frozen=True)
class SectionChange:
    section: str
    status: str
    """`added`, `removed` or `changed`."""
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    details: tuple[str, ...] = ()
    """What changed inside: `group:x: added mallory@evil.example`, markdown-safe."""

    def describe(self) -> str:
        if self.status != "changed":
            names = _entries(self.added or self.removed)
            return f"{code(self.section)}: section {self.status} ({names})"
        parts = [f"{len(names)} {verb} ({', '.join(map(text, names))})"
                 for verb, names in (("added", self.added), ("removed", self.removed),
                                     ("changed", self.changed)) if names]
        return f"{code(self.section)}: " + "; ".join(parts)


@dataclass(frozen=True)
class ResourceChange:
    urn: str
    type: str
    name: str
    keys: tuple[str, ...] = ()
    """Changed inputs as dotted paths (`spec.replicas`); `(parent)`/`(dependencies)` too."""

    def describe(self) -> str:
        what = f"{code(short_type(self.type))} {text(self.name)}"
        return f"{what}: {', '.join(code(key) for key in self.keys)}" if self.keys else what


@dataclass
class Comparison:
    old: str
    new: str
    stack: str
    access_added: list[dict[str, Any]] = field(default_factory=list)
    access_removed: list[dict[str, Any]] = field(default_factory=list)
    access_changed: list[FieldChange] = field(default_factory=list)
    policy: list[SectionChange] = field(default_factory=list)
    resources_added: list[ResourceChange] = field(default_factory=list)
    resources_removed: list[ResourceChange] = field(default_factory=list)
    resources_changed: list[ResourceChange] = field(default_factory=list)
    warnings_added: list[str] = field(default_factory=list)
    warnings_removed: list[str] = field(default_factory=list)
    identities: list[IdentityChange] = field(default_factory=list)
    helm: list[str] = field(default_factory=list)
    """Chart and values changes, markdown-safe lines."""

    @property
    def empty(self) -> bool:
        return not (self.access_added or self.access_removed or self.access_changed
                    or self.identities or self.helm
                    or self.policy or self.resources_added or self.resources_removed
                    or self.resources_changed or self.warnings_added or self.warnings_removed)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_value(item) for item in value) or "(none)"
    if value is None:
        return "(none)"
    return text(value)


def _entries(names: Sequence[str]) -> str:
    return ", ".join(map(text, names)) if names else "empty"


Reader = Callable[[str], str]
"""File name -> text; raises FileNotFoundError for a missing file."""


def _read(directory: Path, name: str, reader: Reader | None = None) -> str:
    missing = PlanFolderError(f"{directory} is not a plan folder: {name} is missing "
                              "(make one with `tailscale-cluster-access plan`).")
    if reader is not None:
        try:
            return reader(name)
        except FileNotFoundError:
            raise missing from None
    # Plan folders come with pull requests: the reader every input file goes through.
    try:
        return read_text(directory / name, what="plan file", max_bytes=PLAN_MAX_BYTES)
    except FileProblem as problem:
        if problem.kind == "missing":
            raise missing from None
        raise PlanFolderError(str(problem)) from None


def _json_list(directory: Path, name: str, reader: Reader | None) -> list[dict[str, Any]]:
    try:
        value = load_json(_read(directory, name, reader), source=str(directory / name))
    except FileProblem as problem:
        raise PlanFolderError(str(problem)) from None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise PlanFolderError(f"{directory / name} is not a list of objects.")
    return value


def load_plan_dir(directory: Path) -> LoadedPlan:
    """Read what a comparison needs from a plan folder; `PlanError` if it is not one."""
    if not directory.is_dir():
        raise PlanFolderError(f"{directory} is not a folder (expected the output of "
                        "`tailscale-cluster-access plan`).")
    return load_plan(directory)


def load_plan_files(files: Mapping[str, str], directory: Path) -> LoadedPlan:
    """A plan not written yet (`render_files`' result), as if it were in `directory`."""
    return load_plan(directory, lambda name: files[name] if name in files else _missing(name))


def _missing(name: str) -> str:
    raise FileNotFoundError(name)


def _optional(directory: Path, name: str, reader: Reader | None) -> str:
    try:
        return _read(directory, name, reader)
    except PlanFolderError:
        return ""


def load_plan(directory: Path, reader: Reader | None = None) -> LoadedPlan:
    access = _json_list(directory, model.ACCESS_JSON_FILE, reader)
    resources = _json_list(directory, model.RESOURCES_FILE, reader)
    try:
        policy = hujson.parse(_read(directory, model.POLICY_FILE, reader),
                              str(directory / model.POLICY_FILE)).data
    except hujson.HujsonError as error:
        raise PlanFolderError(f"{error}") from None
    # Warnings live only in the summary; an older plan without one simply has none.
    summary = _optional(directory, model.SUMMARY_FILE, reader)
    warnings = tuple(unescape(line[len(model.WARNING_BULLET):])
                     for line in summary.splitlines() if line.startswith(model.WARNING_BULLET))
    try:
        helm = [r for r in load_yaml_documents(_optional(directory, model.HELM_FILE, reader),
                                               source=str(directory / model.HELM_FILE))
                if isinstance(r, dict)]
    except FileProblem as problem:
        raise PlanFolderError(str(problem)) from None
    stack = directory.name
    for resource in resources:
        urn = str(resource.get("urn", ""))
        if urn.startswith("urn:pulumi:"):
            stack = urn[len("urn:pulumi:"):].split("::", 1)[0]
            break
    return LoadedPlan(directory, stack, access, policy, resources, warnings, helm)




def _entry_name(entry: Any) -> str:
    """How a reviewer recognises a list entry: its source, else a short rendering."""
    if isinstance(entry, Mapping) and "src" in entry:
        src = entry["src"]
        text = ", ".join(map(str, src)) if isinstance(src, list) else str(src)
        return f"src {text}"
    text = canonical(entry)
    return text if len(text) <= 60 else text[:59] + "…"


def _section_change(section: str, old: Any, new: Any) -> SectionChange | None:
    if canonical(old) == canonical(new):
        return None
    if old is None:
        names = sorted(new) if isinstance(new, Mapping) else [
            _entry_name(item) for item in new] if isinstance(new, list) else []
        return SectionChange(section, "added", added=tuple(names))
    if new is None:
        names = sorted(old) if isinstance(old, Mapping) else [
            _entry_name(item) for item in old] if isinstance(old, list) else []
        return SectionChange(section, "removed", removed=tuple(names))
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return SectionChange(
            section, "changed",
            added=tuple(sorted(set(new) - set(old))),
            removed=tuple(sorted(set(old) - set(new))),
            changed=tuple(sorted(key for key in set(old) & set(new)
                                 if canonical(old[key]) != canonical(new[key]))))
    if isinstance(old, list) and isinstance(new, list):
        # Entries compared as a multiset: reordering alone is no change to a reviewer.
        old_count = Counter(canonical(item) for item in old)
        new_count = Counter(canonical(item) for item in new)
        added = [_entry_name(item) for item in new if _take(new_count, old_count, item)]
        removed = [_entry_name(item) for item in old if _take(old_count, new_count, item)]
        if not added and not removed:
            return None
        # An entry for the same source on both sides reads better as one changed entry.
        changed = []
        for name in list(added):
            if name.startswith("src ") and name in removed:
                added.remove(name)
                removed.remove(name)
                changed.append(name)
        return SectionChange(section, "changed", added=tuple(added), removed=tuple(removed),
                             changed=tuple(changed))
    return SectionChange(section, "changed", changed=(f"{canonical(old)} -> {canonical(new)}",))


def _take(mine: Counter[str], theirs: Counter[str], item: Any) -> bool:
    """True for each occurrence of `item` beyond the number the other side has."""
    key = canonical(item)
    if mine[key] > theirs[key]:
        mine[key] -= 1
        return True
    return False


def _changed_paths(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        paths: list[str] = []
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                paths.append(sub)
            else:
                paths += _changed_paths(old[key], new[key], sub)
        return paths
    return [] if canonical(old) == canonical(new) else [path or "(inputs)"]


def _section_order(keys: set[str]) -> list[str]:
    rank = {key: index for index, key in enumerate(hujson.CANONICAL_KEY_ORDER)}
    return sorted(keys, key=lambda key: (rank.get(key, len(rank)), key))


def compare_plans(old: LoadedPlan, new: LoadedPlan) -> Comparison:
    result = Comparison(old=str(old.path), new=str(new.path), stack=new.stack)

    old_access, new_access = _with_rights(old.access), _with_rights(new.access)
    old_rows = {str(row.get("src")): row for row in old_access}
    new_rows = {str(row.get("src")): row for row in new_access}
    result.access_added = [row for src, row in new_rows.items() if src not in old_rows]
    result.access_removed = [row for src, row in old_rows.items() if src not in new_rows]
    for src, row in new_rows.items():
        before = old_rows.get(src)
        if before is None:
            continue
        fields = [key for key in model.ACCESS_FIELDS if key != "src"]
        fields += sorted((set(row) | set(before)) - set(fields) - {"src"})
        result.access_changed += [FieldChange(src, key, before.get(key), row.get(key))
                                  for key in fields if model.comparable(key, before, row)
                                  and canonical(before.get(key)) != canonical(row.get(key))]

    for section in _section_order(set(old.policy) | set(new.policy)):
        change = _section_change(section, old.policy.get(section), new.policy.get(section))
        if change is not None:
            # Inside a section both sides have; an added or removed one is named as a whole.
            details = value_changes(old.policy[section], new.policy[section], "", text) \
                if change.status == "changed" else []
            result.policy.append(SectionChange(change.section, change.status, change.added,
                                               change.removed, change.changed, tuple(details)))
    fields = [key for key in model.ACCESS_FIELDS if key != "src"]
    result.identities = identity_changes(old_access, old.policy, new_access, new.policy,
                                         fields, _value)
    result.helm = helm_changes(old.helm, new.helm, text)

    old_resources = {str(r.get("urn")): r for r in old.resources}
    new_resources = {str(r.get("urn")): r for r in new.resources}

    def ref(resource: Mapping[str, Any], keys: Sequence[str] = ()) -> ResourceChange:
        return ResourceChange(str(resource.get("urn")), str(resource.get("type", "")),
                              str(resource.get("name", "")), tuple(keys))

    # Plan files list resources in creation order; keep it.
    result.resources_added = [ref(r) for urn, r in new_resources.items()
                              if urn not in old_resources]
    result.resources_removed = [ref(r) for urn, r in old_resources.items()
                                if urn not in new_resources]
    for urn, resource in new_resources.items():
        before = old_resources.get(urn)
        if before is None:
            continue
        keys = _changed_paths(before.get("inputs", {}), resource.get("inputs", {}))
        for extra in ("parent", "dependencies"):
            if canonical(before.get(extra)) != canonical(resource.get(extra)):
                keys.append(f"({extra})")
        if keys:
            result.resources_changed.append(ref(resource, keys))
    result.warnings_added = [text for text in new.warnings if text not in old.warnings]
    result.warnings_removed = [text for text in old.warnings if text not in new.warnings]
    return result


def _with_rights(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows with `sensitiveRights`, computed for plans made before rows carried them."""
    return [{**row, "sensitiveRights": row_rights(row)} for row in rows]


def _row_text(row: Mapping[str, Any]) -> str:
    # The newer fields only where they say something: a kind other than a grant, events on, a
    # broad source; always who wrote it.
    fields = [key for key in model.ACCESS_FIELDS if key != "src" and key in row
              and (key not in model.LATER_ACCESS_FIELDS or key == "origin"
                   or row[key] not in (False, "grant"))]
    return f"{text(row.get('src'))}: " + ", ".join(f"{key} {_value(row[key])}"
                                                    for key in fields)


def render_comparison(comparison: Comparison) -> str:
    """Markdown for a pull-request comment or a terminal."""
    out = [f"### Changes to stack {code(comparison.stack)}", "",
           f"From {code(comparison.old)} to {code(comparison.new)}.", ""]
    if comparison.empty:
        return "\n".join([*out, "No changes: same access, same policy, same resources."]) + "\n"
    access = ([f"- added {_row_text(row)}" for row in comparison.access_added]
              + [f"- removed {_row_text(row)}" for row in comparison.access_removed]
              + [f"- {change.describe()}" for change in comparison.access_changed])
    identities = [f"- {describe(change, text)}" for change in comparison.identities]
    policy = [line for change in comparison.policy
              for line in (f"- {change.describe()}", *(f"  - {d}" for d in change.details))]
    helm = [f"- {line}" for line in comparison.helm]
    resources = ([f"- added {change.describe()}" for change in comparison.resources_added]
                 + [f"- removed {change.describe()}" for change in comparison.resources_removed]
                 + [f"- changed {change.describe()}" for change in comparison.resources_changed])
    for title, lines in (("Who gains or loses access", identities), ("Access rows", access),
                         ("Tailnet policy sections", policy), ("Helm releases", helm),
                         ("Resources", resources)):
        out += [f"**{title}**", "", *(lines or ["- no change"]), ""]
    if comparison.warnings_added or comparison.warnings_removed:
        out += ["**Warnings**", ""]
        out += [f"- new: {text(line)}" for line in comparison.warnings_added]
        out += [f"- gone: {text(line)}" for line in comparison.warnings_removed]
    return "\n".join(out).rstrip("\n") + "\n"
