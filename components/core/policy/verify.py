"""Run the offline evaluator over a merged policy, wherever the project produces one.

A failing test (the base's or a generated one) would make Tailscale refuse the whole policy on
`pulumi up`; here it is an invalid input, named with the rule that breaks it and whose rule that
is ("base", or the cluster / fragment that added it). Undecidable assertions become warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..problems import Problem
from .evaluate import FailedAssertion, PolicyModel, run_tests, who_reaches
from .sections import section
from .values import canonical, shown

BASE = "base"
NETWORK_SECTIONS = ("acls", "grants")
_SECTIONS = (*NETWORK_SECTIONS, "tests")


def _entries(policy: Mapping[str, Any] | None, name: str) -> list[Any]:
    value = section(policy, name)
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class Origins:
    """Who added each entry of the merged policy's acls, grants and tests.

    The merge keeps the base's entries first and in order, then appends each fragment's new
    entries; an entry equal to one already there is not added again."""

    by_section: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __call__(self, section_name: str, index: int) -> str:
        names = self.by_section.get(section_name, ())
        return names[index] if 0 <= index < len(names) else BASE


def origins(
    merged: Mapping[str, Any],
    base: Mapping[str, Any] | None,
    fragments: Sequence[tuple[str, Mapping[str, Any]]],
    sections: Sequence[str] = _SECTIONS,
) -> Origins:
    """Label the entries of `sections` in `merged`, which is `merge_policies(base,
    fragments)` (a model needs only acls and grants)."""
    by_section: dict[str, tuple[str, ...]] = {}
    for name in sections:
        base_count = len(_entries(base, name))
        if len(fragments) == 1:
            # The merge keeps the base's entries first: all later ones are this fragment's.
            added = len(_entries(merged, name)) - base_count
            by_section[name] = (BASE,) * base_count + (fragments[0][0],) * max(added, 0)
            continue
        owner: dict[str, str] = {}
        for fragment_name, fragment in fragments:
            for entry in _entries(fragment, name):
                owner.setdefault(canonical(entry), fragment_name)
        labels = [BASE] * base_count
        for entry in _entries(merged, name)[base_count:]:
            labels.append(owner.get(canonical(entry), BASE))
        by_section[name] = tuple(labels)
    return Origins(by_section)


def _describe_failure(failure: FailedAssertion, merged: Mapping[str, Any],
                      origin_of: Callable[[str, int], str]) -> str:
    tests = _entries(merged, "tests")
    test = tests[failure.test_index] if failure.test_index < len(tests) else None
    whose = origin_of("tests", failure.test_index)
    text = (f"tests[{failure.test_index}] ({whose}) {shown(test, 140)}: {failure.src} "
            f"{failure.kind} {failure.dst} fails")
    if failure.kind == "deny" and failure.rules:
        rules = "; ".join(f"{r.label} {r.summary}" for r in failure.rules)
        return f"{text}: allowed by {rules}"
    return f"{text}: {failure.reason}"


@dataclass
class Verification:
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    passed: int = 0


def verify_policy(merged: Mapping[str, Any], origin_of: Callable[[str, int], str],
                  *, key: str = "policy", where: str = "",
                  model: PolicyModel | None = None, complete: bool = True) -> Verification:
    """The merged policy's tests run offline: failures and problems as `Problem`s (under
    `key`), undecidable assertions as warnings (see `run_tests` for `complete`)."""
    report = run_tests(merged, origin_of, model=model, complete=complete)
    result = Verification(passed=report.passed)
    fix = ("change the rule or the test so that they agree; Tailscale refuses a policy whose "
           "tests fail")
    for failure in report.failures:
        result.problems.append(Problem(key, _describe_failure(failure, merged, origin_of), fix))
    for problem in report.problems:
        whose = f" ({origin_of(problem.section, problem.index)})" if problem.index is not None \
            else ""
        result.problems.append(Problem(key, f"{problem.where}{whose}: {problem.message}"))
    for warning in report.warnings:
        result.warnings.append(
            f"{where}policy test not checked offline, {warning.render()}"
        )
    return result


def base_reach_warnings(merged: Mapping[str, Any] | PolicyModel,
                        origin_of: Callable[[str, int], str],
                        targets: Sequence[tuple[str, int, str]], where: str = "") -> list[str]:
    """Warnings for base rules that already let a source reach the stack's tags.

    `targets` are (tag, port, what) triples, e.g. the endpoint on 443 and the recorder."""
    warnings: list[str] = []
    for tag, port, what in targets:
        seen: set[tuple[str, str]] = set()
        for reach in who_reaches(merged, tag, port, origin_of=origin_of):
            if reach.rule.origin != BASE or (reach.selector, reach.rule.label) in seen:
                continue
            seen.add((reach.selector, reach.rule.label))
            maybe = "" if reach.certain else " (may)"
            warnings.append(
                f"{where}the base policy{maybe} lets {reach.selector} reach the {what} "
                f"{tag}:{port} through {reach.rule.label}, beyond the stack's access rules."
            )
    return warnings
