"""How the tailnet policy file is written, and what the base policy may not contain."""

from collections.abc import Mapping
from typing import Any

from ..policy.sections import case_clashes, section
from ..problems import Problem
from ..spec import ClusterAccessSpec, PolicySettings
from .reader import ConfigReader


def read_policy(reader: ConfigReader) -> PolicySettings:
    manage = reader.boolean("manage", True)
    base = reader.string("base", "")
    base_text = reader.string("baseText", "")
    adopt = reader.boolean("adoptExisting", False)
    rules = reader.string("networkRules", "acls")
    reader.finish()
    if rules not in ("acls", "grants"):
        reader.problem(
            reader.key("networkRules"),
            f'"{rules}" is not a network rule style.',
            'use "acls" (like the guide) or "grants".',
        )
        rules = "acls"
    if base and base_text:
        reader.problem(
            reader.key("baseText"),
            "give the base policy as a file (policy.base) or as text (policy.baseText), "
            "not both.",
        )
    if adopt and not manage:
        reader.problem(
            reader.key("adoptExisting"),
            "only applies when the stack writes the policy (policy.manage: true).",
        )
    return PolicySettings(
        manage=manage,
        base=base,
        base_text=base_text,
        adopt_existing=adopt,
        network_rules="grants" if rules == "grants" else "acls",
    )


def check_base_policy(spec: ClusterAccessSpec, base: Mapping[str, Any]) -> list[Problem]:
    """A written policy needs a base; the base must be readable the way Tailscale reads it."""
    problems: list[Problem] = []
    if spec.policy.manage and not spec.policy.base and not spec.policy.base_text:
        problems.append(Problem(
            "policy.base",
            "is required when the stack writes the tailnet policy (policy.manage: true): "
            "tailscale.Acl replaces the whole file, so without a base the first `pulumi up` "
            "would drop every rule other teams wrote (on a new tailnet, the default allow-all "
            "rule).",
            "export the live policy into a file (admin console > Access controls, or "
            "`tailscale.get_acl().hujson`) and point policy.base at it; to replace the whole "
            "policy on purpose, point it at a file that holds {}; or set policy.manage: false "
            "to export only this stack's fragment."))
    for first, second in case_clashes(base):
        problems.append(Problem(
            "policy.base", f'has both "{first}" and "{second}"; Tailscale reads keys without '
            "regard to case, so it would see only one of them.", "merge them into one section."))
    if section(base, "defaultSrcPosture"):
        problems.append(Problem(
            "policy.base",
            "sets defaultSrcPosture, which Tailscale applies to every rule without a posture of "
            "its own: the proxy-to-recorder rule (recorded sessions would be refused) and the "
            "policy tests this stack generates included.",
            "give the rules that need a posture their own srcPosture and remove "
            "defaultSrcPosture, or require the posture here with access[].posture."))
    return problems
