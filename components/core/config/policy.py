"""How the tailnet policy file is written, and what the base policy may not contain."""

from collections.abc import Mapping
from typing import Any

from ..base_policy import parse_base
from ..parts import BASE_TEXT_FIX, BASE_WHY
from ..policy.sections import section
from ..problems import Problem
from ..spec import ClusterAccessSpec, PolicySettings
from .reader import SpecReader, join


def check_policy(reader: SpecReader, policy: PolicySettings, path: str,
                 given: frozenset[str]) -> None:
    if policy.base and policy.base_text:
        reader.problem(join(path, "baseText"),
                       "give the base policy as a file (policy.base) or as text "
                       "(policy.baseText), not both.", "remove one of them.")
    if policy.adopt_existing and not policy.manage:
        reader.problem(join(path, "adoptExisting"),
                       "only applies when the stack writes the policy (policy.manage: true).",
                       "remove policy.adoptExisting, or set policy.manage: true.")


def check_base_text(reader: SpecReader, key: str, text: str) -> None:
    """A base given as text (component args) must hold a policy, `{}` at least."""
    if not text.strip():
        reader.problem(key, f"is required: {BASE_WHY}.", BASE_TEXT_FIX)
        return
    for problem in parse_base(text, key, fix="fix the policy text.")[1]:
        reader.problem(problem.key, problem.message, problem.fix)


def check_base_policy(spec: ClusterAccessSpec, base: Mapping[str, Any]) -> list[Problem]:
    """A written policy needs a base; the base must be readable the way Tailscale reads it."""
    problems: list[Problem] = []
    if spec.policy.manage and not spec.policy.base and not spec.policy.base_text:
        problems.append(Problem(
            "policy.base",
            f"is required when the stack writes the tailnet policy (policy.manage: true): "
            f"{BASE_WHY}.",
            "export the live policy into a file (admin console > Access controls, or "
            "`tailscale.get_acl().hujson`) and point policy.base at it; to replace the whole "
            "policy on purpose, point it at a file that holds {}; or set policy.manage: false "
            "to export only this stack's fragment."))
    # Keys that differ only in case: core.base_policy.base_problems, for every reader.
    if section(base, "defaultSrcPosture"):
        problems.append(Problem(
            "policy.base",
            "sets defaultSrcPosture, which Tailscale applies to every rule without a posture of "
            "its own: the proxy-to-recorder rule (recorded sessions would be refused) and the "
            "policy tests this stack generates included.",
            "give the rules that need a posture their own srcPosture and remove "
            "defaultSrcPosture, or require the posture here with access[].posture."))
    return problems
