"""The one pipeline that turns a base policy and fragments into the policy file to write.

merge (conflicts become problems) -> acls syntax of the base -> the fragment's tests, decided
on the merged rules -> the offline evaluator runs every test -> the base file's text with the
added entries spliced in -> the ownership record of the drift check.

The cluster plan, the fleet plan, `TailnetPolicy`, `TailnetFleetPolicy` and the `merge`
command all compose here, so the policy a plan verified is the text its program writes.
Each composition merges once and builds one evaluator model.
"""

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .. import base_policy
from ..problems import InvalidConfig, Problem
from . import hujson
from .evaluate import PolicyModel, acls_style, build_model
from .formatted import render_merged
from .merge import Conflict, PolicyMerge
from .ownership import mark_owned
from .sections import section_key
from .verify import NETWORK_SECTIONS, Origins, origins, verify_policy

__all__ = ["Composed", "align_acls_syntax", "compose", "mixed_acls_problem", "parse_base"]

Fragments = Sequence[tuple[str, Mapping[str, Any]]]
DecideTests = Callable[[PolicyModel], list[dict[str, Any]]]
"""A fragment's tests, decided on the model of the merged network rules."""
_RENAMED = {True: {"src": "users", "dst": "ports"}, False: {"users": "src", "ports": "dst"}}


def mixed_acls_problem(key: str) -> Problem:
    """A base whose acls already mix legacy users/ports with src/dst entries."""
    return Problem(
        key,
        "its acls mix old-style users/ports entries with new-style src/dst entries; "
        "Tailscale rejects such a policy (\"ACLs contain a mix of old-style...\").",
        "convert the old-style entries: rename \"users\" to \"src\" and \"ports\" to "
        "\"dst\" in each of them (or the other way round for all of them).",
    )


def parse_base(text: str, source: str) -> tuple[hujson.PolicyDocument | None, list[Problem]]:
    """The base policy file's document ({} for an empty text: no base), or the problems
    naming `source` (`base_policy.parse_base`)."""
    if not text.strip():
        return hujson.PolicyDocument({}), []
    return base_policy.parse_base(text, source)


def align_acls_syntax(base: Mapping[str, Any], fragments: Fragments
                      ) -> list[tuple[str, Mapping[str, Any]]]:
    """The fragments with their `acls` in the base's syntax, legacy `users`/`ports` or
    `src`/`dst` (Tailscale refuses a list that mixes the two); unchanged when the base has
    no acls."""
    style = acls_style(base)
    if style not in ("legacy", "new"):
        return list(fragments)
    renamed = _RENAMED[style == "legacy"]
    aligned: list[tuple[str, Mapping[str, Any]]] = []
    for name, fragment in fragments:
        key = section_key(fragment, "acls")
        entries = fragment.get(key) if key is not None else None
        if key is None or not isinstance(entries, list):
            aligned.append((name, fragment))
            continue
        restyled = [{renamed.get(field_name.lower(), field_name): value
                     for field_name, value in entry.items()}
                    if isinstance(entry, Mapping) else entry for entry in entries]
        aligned.append((name, {**fragment, key: restyled}))
    return aligned


@dataclass(frozen=True)
class Composed:
    """A composed policy: what is written and everything it was checked with."""

    data: dict[str, Any]
    """The merged policy ({} when `problems` stopped the merge)."""
    fragments: tuple[tuple[str, dict[str, Any]], ...]
    """The fragments as merged: in the base's acls syntax, with their decided tests."""
    base: hujson.PolicyDocument | None
    model: PolicyModel | None
    """The evaluator's model of the merged network rules (None when the merge failed)."""
    origins: Origins
    """Who added each acls, grants and tests entry of `data`."""
    warnings: list[str] = field(default_factory=list)
    """Policy tests the offline evaluator could not decide."""
    format_notes: list[str] = field(default_factory=list)
    """Why the written policy could not keep the base file's text (empty normally)."""
    problems: list[Problem] = field(default_factory=list)
    """Why Tailscale would refuse the policy: conflicts, failing tests, a mixed acls list."""
    conflicts: tuple[Conflict, ...] = ()
    """The merge conflicts among `problems`, for callers that show them as such."""
    spliced: str | None = field(default=None, repr=False)

    @cached_property
    def text(self) -> str:
        """The policy file to write: the base file's text with the added entries spliced in
        (canonical without a base), the ownership record on top. Rendered on first use: a
        fragment-mode stack verifies the merged policy but writes only its fragment."""
        if self.spliced is not None:
            text = self.spliced
        else:
            text = (self.base or hujson.PolicyDocument({})).dumps(self.data)
        return mark_owned(text, self.data, self.base.data if self.base else None)


def compose(
    base_text: str,
    fragments: Fragments,
    *,
    base: hujson.PolicyDocument | None = None,
    base_source: str = "policy.base",
    key: str = "policy",
    where: str = "",
    labels: Mapping[str, str] | None = None,
    decide_tests: DecideTests | None = None,
    check: Callable[[dict[str, Any]], list[Problem]] | None = None,
    render: bool = True,
    complete: bool = True,
) -> Composed:
    """Compose `fragments` (name, policy data) into the base policy in `base_text`.

    `base`: the text's document when the caller parsed it already. Problems (under `key`;
    those of the base itself under `base_source`) stop the pipeline at their step. `where`
    prefixes warnings and notes; `labels` names fragments in the "added by" comments (default
    their names). `decide_tests` adds the tests of the one fragment after its rules are
    merged; `check` adds problems of the merged policy before its tests run. Without `render`
    the base's text is not spliced (`text` is then canonical). `complete=False`: the result is
    a fragment that another writer completes, so names it leaves undefined fail no test.
    """
    if base is None:
        base, problems = parse_base(base_text, base_source)
        if base is None:
            return Composed({}, (), None, None, Origins(), problems=problems)
    base_data = base.data
    if acls_style(base_data) == "mixed":
        return Composed({}, (), base, None, Origins(), problems=[mixed_acls_problem(base_source)])
    aligned = [(name, dict(fragment)) for name, fragment in align_acls_syntax(base_data,
                                                                              fragments)]
    try:
        merge = PolicyMerge(base_data, aligned)
    except InvalidConfig as error:
        # Fragments that are not policies, or two under one name.
        return Composed({}, (), base, None, Origins(), problems=error.problems)
    conflicts = merge.conflicts
    if conflicts:
        return Composed({}, tuple(aligned), base, None, Origins(),
                        problems=[Problem(key, conflict.describe()) for conflict in conflicts],
                        conflicts=tuple(conflicts))
    merged = merge.result
    rule_origins = origins(merged, base_data, aligned, NETWORK_SECTIONS)
    model = build_model(merged, rule_origins)
    if decide_tests is not None:
        if len(aligned) != 1:
            raise ValueError("decide_tests composes exactly one fragment")
        name, fragment = aligned[0]
        # The tests add no network rule: the model they are decided on stays the policy's.
        fragment["tests"] = decide_tests(model)
        merge.add(name, {"tests": fragment["tests"]})
    test_origins = origins(merged, base_data, aligned, ("tests",))
    origin_of = Origins({**rule_origins.by_section, **test_origins.by_section})
    composed = Composed(merged, tuple(aligned), base, model, origin_of)
    if check is not None:
        composed.problems.extend(check(merged))
        if composed.problems:
            return composed
    verified = verify_policy(merged, origin_of, key=key, where=where, model=model,
                             complete=complete)
    composed.problems.extend(verified.problems)
    composed.warnings.extend(verified.warnings)
    if render and base_data and not composed.problems:
        named = [((labels or {}).get(name, name), fragment) for name, fragment in aligned]
        rendered = render_merged(base_text, merged, named, base_source)
        composed.format_notes.extend(f"{where}{note}" for note in rendered.notes)
        return dataclasses.replace(composed, spliced=rendered.text)
    return composed
