"""Tailnet identities: access rules, role bindings, groups and postures, and the checks of
who may get what (broad admin sources, undefined groups and postures, unowned tags)."""

from collections.abc import Mapping
from typing import Any

from ..identifiers import (
    DOMAIN_WILDCARD,
    GROUP,
    TAG,
    USER,
    USER_DOMAIN_WILDCARD,
)
from ..policy.sections import section
from ..problems import Problem
from ..spec import (
    ADMIN_CLUSTER_ROLES,
    AccessRule,
    ClusterAccessSpec,
    RoleBinding,
)
from .reader import SpecReader, quoted

KNOWN_AUTOGROUPS = frozenset(
    {
        "autogroup:member",
        "autogroup:tagged",
        "autogroup:admin",
        "autogroup:owner",
        "autogroup:it-admin",
        "autogroup:network-admin",
        "autogroup:billing-admin",
        "autogroup:auditor",
        "autogroup:shared",
    }
)

# Autogroups valid elsewhere in the policy but not as a network or grant source (kb/1337).
SSH_ONLY_AUTOGROUPS = frozenset({"autogroup:nonroot"})


BROAD_SOURCES = frozenset({"*", "autogroup:member", "autogroup:tagged", "autogroup:shared"})


IDENTITY_HINT = (
    "use group:<name>, tag:<name>, a user's login email, autogroup:member (or another autogroup), "
    '"user:*@<domain>" or "*"'
)


def is_broad_source(src: str) -> bool:
    return (src in BROAD_SOURCES or bool(USER_DOMAIN_WILDCARD.match(src))
            or bool(DOMAIN_WILDCARD.match(src)))


def is_scim_group(group: str) -> bool:
    """SCIM-synced groups (`group:name@domain`) live in the identity provider, not the file."""
    return "@" in group


def check_tag(problems: list[Problem], key: str, value: str) -> None:
    if not TAG.match(value):
        problems.append(
            Problem(
                key,
                f"{quoted(value)} is not a tag.",
                'tags look like "tag:k8s-operator": "tag:", a letter, then letters, '
                "digits or dashes.",
            )
        )


def check_identity(problems: list[Problem], key: str, value: str) -> None:
    if value == "*" or value in KNOWN_AUTOGROUPS or USER_DOMAIN_WILDCARD.match(value):
        return
    if DOMAIN_WILDCARD.match(value):
        problems.append(Problem(
            key, f"{quoted(value)} is not a source Tailscale accepts.",
            f'write every user of a domain as "user:{value}" (kb/1337).'))
    elif value in SSH_ONLY_AUTOGROUPS:
        problems.append(Problem(
            key, f"{quoted(value)} is valid only as an SSH user, not as a source.",
            "use autogroup:member, a group or users instead."))
    elif value.startswith("tag:"):
        check_tag(problems, key, value)
    elif value.startswith("group:"):
        if not GROUP.match(value):
            problems.append(
                Problem(
                    key,
                    f"{quoted(value)} is not a valid group name.",
                    'groups look like "group:ml-engineers".',
                )
            )
    elif value.startswith("autogroup:"):
        problems.append(
            Problem(
                key,
                f"{quoted(value)} is not an autogroup Tailscale knows.",
                "use one of " + ", ".join(sorted(KNOWN_AUTOGROUPS)) + ".",
            )
        )
    elif not USER.match(value):
        problems.append(
            Problem(key, f"{quoted(value)} is not a tailnet identity.", IDENTITY_HINT)
        )


def check_member(problems: list[Problem], key: str, value: str) -> None:
    if value.startswith("group:"):
        problems.append(
            Problem(
                key,
                f"{quoted(value)}: groups cannot contain groups.",
                "list the members' login emails instead.",
            )
        )
    elif not USER.match(value):
        problems.append(
            Problem(
                key,
                f"{quoted(value)} is not a login email.",
                'members are users, e.g. "alice@example.com".',
            )
        )


def distinct_rules(reader: SpecReader, key: str, rules: list[AccessRule]) -> None:
    """Two rules that grant the same thing (in any order) are one rule written twice."""
    first_seen: dict[AccessRule, str] = {}
    for index, rule in enumerate(rules):
        canonical = AccessRule(src=tuple(sorted(rule.src)),
                               kubernetes_groups=tuple(sorted(rule.kubernetes_groups)),
                               record_sessions=rule.record_sessions,
                               record_api_requests=rule.record_api_requests,
                               posture=tuple(sorted(rule.posture)))
        path = f"{key}[{index}]"
        if canonical in first_seen:
            reader.problem(path, f"repeats {first_seen[canonical]}.",
                           "remove one of the two rules.")
        else:
            first_seen[canonical] = path


def distinct_bindings(reader: SpecReader, key: str, bindings: list[RoleBinding]) -> None:
    names: dict[str, str] = {}
    for index, binding in enumerate(bindings):
        path = f"{key}[{index}]"
        if not (binding.group and binding.cluster_role):
            continue
        if binding.name in names:
            reader.problem(path, f"repeats {names[binding.name]}.", "remove one of them.")
        else:
            names[binding.name] = path


def check_role_binding(reader: SpecReader, binding: RoleBinding, path: str,
                       given: frozenset[str]) -> None:
    if binding.group == "system:masters":
        reader.problem(f"{path}.group", "system:masters is already bound to cluster-admin by "
                       "Kubernetes.", "remove this binding.")


def keys_of(value: Any) -> set[str]:
    return set(value) if isinstance(value, Mapping) else set()


def as_set(value: Any) -> set[str]:
    if isinstance(value, list):
        return {str(v) for v in value}
    return set()


def check_access_rules(spec: ClusterAccessSpec, base: Mapping[str, Any]) -> list[Problem]:
    """Who each rule lets in: no broad admin, only defined postures, groups and owned tags,
    never the stack's own devices."""
    keyed = [(f"access[{index}]", rule) for index, rule in enumerate(spec.access)]
    if spec.break_glass is not None:
        keyed.append(("breakGlass", spec.break_glass.rule))
    problems: list[Problem] = []
    for key, rule in keyed:
        problems += _broad_admin(spec, rule, key)
        problems += _undefined_postures(spec, rule, key, keys_of(section(base, "postures")))
        for s_index, src in enumerate(rule.src):
            problems += _source_problems(spec, base, src, f"{key}.src[{s_index}]")
    return problems


def _broad_admin(spec: ClusterAccessSpec, rule: AccessRule, key: str) -> list[Problem]:
    admin_groups = [group for group in rule.kubernetes_groups
                    if ADMIN_CLUSTER_ROLES & set(spec.cluster_roles_for(group))]
    broad = [src for src in rule.src if is_broad_source(src)]
    if not (admin_groups and broad) or spec.allow_broad_admin:
        return []
    return [Problem(f"{key}.src",
                    f"{', '.join(broad)} would get cluster-admin "
                    f"(through {', '.join(admin_groups)}).",
                    "grant admin to a specific group, or set allowBroadAdmin: true if you "
                    "really mean everyone.")]


def _undefined_postures(spec: ClusterAccessSpec, rule: AccessRule, key: str,
                        base_postures: set[str]) -> list[Problem]:
    return [Problem(f"{key}.posture[{index}]", f'"{posture}" is not defined.',
                    f'define it under postures (e.g. "{posture}": '
                    "[\"node:tsReleaseTrack == 'stable'\"]) or in the base policy.")
            for index, posture in enumerate(rule.posture)
            if posture not in spec.postures and posture not in base_postures]


def _source_problems(spec: ClusterAccessSpec, base: Mapping[str, Any], src: str,
                     key: str) -> list[Problem]:
    problems: list[Problem] = []
    whole_policy_known = spec.policy.manage or bool(spec.policy.base)
    if (src.startswith("group:") and whole_policy_known and not is_scim_group(src)
            and src not in spec.groups and src not in keys_of(section(base, "groups"))):
        problems.append(Problem(key, f'"{src}" is not defined.',
                                "define its members under groups, or in the base policy "
                                "file (policy.base)."))
    base_members = (section(base, "groups") or {}).get(src) if src not in spec.groups else None
    if src.startswith("group:") and isinstance(base_members, list):
        # The plan attributes the rule's rights to these members: checked like the config's.
        for index, member in enumerate(base_members):
            if isinstance(member, str):
                check_member(problems, f"policy.base (groups.{src}[{index}], granted by {key})",
                             member)
    owned_tags = keys_of(section(base, "tagOwners")) | {
        spec.tags.operator, spec.tags.proxy, spec.tags.recorder, spec.tags.proxy_group}
    if src.startswith("tag:") and whole_policy_known and TAG.match(src) and src not in owned_tags:
        problems.append(Problem(key, f'"{src}" is used but nobody owns it.',
                                "add it to tagOwners in the base policy file."))
    return problems + _own_tag_problems(spec, src, key)


def _own_tag_problems(spec: ClusterAccessSpec, src: str, key: str) -> list[Problem]:
    own_roles = [role for role, tag in (("operator", spec.tags.operator),
                                        ("proxy", spec.tags.proxy),
                                        ("recorder", spec.tags.recorder),
                                        ("ProxyGroup", spec.tags.proxy_group)) if src == tag]
    if not own_roles:
        return []
    return [Problem(key, f'"{src}" is this stack\'s own {own_roles[0]} tag; the devices that '
                    "serve kubectl and record it cannot also be its clients.",
                    "use the tag of the clients instead.")]


def check_deployer(spec: ClusterAccessSpec) -> list[Problem]:
    """The deployer is a client like an access rule's source (its tag gets tagOwners from the
    stack when the base has none), with at least one group to bind."""
    if spec.deployer is None:
        return []
    problems = _own_tag_problems(spec, spec.deployer.tag, "deployer.tag")
    if not spec.deployer.kubernetes_groups:
        problems.append(Problem("deployer.kubernetesGroups", "must not be empty.",
                                'leave it out for ["tailnet-deployers"], or name the groups '
                                "the deployer's ClusterRole is bound to."))
    return problems


def check_definitions(spec: ClusterAccessSpec, base: Mapping[str, Any]) -> list[Problem]:
    """Groups and postures the stack defines must not redefine the base policy's."""
    problems: list[Problem] = []
    base_postures = section(base, "postures") or {}
    for name in spec.postures:
        if name in base_postures and as_set(base_postures.get(name)) != set(spec.postures[name]):
            problems.append(Problem(f"postures.{name}",
                                    f"the base policy defines {name} differently.",
                                    "use the base policy's definition, or a new posture name."))
    base_groups = section(base, "groups") or {}
    for name in spec.groups:
        if name in base_groups and as_set(base_groups.get(name)) != set(spec.groups[name]):
            problems.append(Problem(f"groups.{name}",
                                    f"the base policy defines {name} with other members.",
                                    "define the group in one place only."))
    return problems
