"""Everything one cluster's stack will do, computed from its configuration without Pulumi.

`plan_cluster` validates the configuration together with the base policy file and
renders the policy fragment, the written policy and the access matrix. The components
turn this into resources; `tailscale-cluster-access plan` shows it to reviewers.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .base_policy import parse_base_text, read_base_policy
from .config import SecretInputs, Spelling, read_cluster
from .policy import hujson
from .policy.access import AccessRow, access_matrix, access_warnings
from .policy.build import plan_fragment
from .policy.evaluate import acls_style, build_model
from .policy.formatted import render_merged
from .policy.merge import MergeError, merge_policies
from .policy.ownership import mark_owned
from .policy.verify import Origins, base_reach_warnings, origins, verify_policy
from .problems import InvalidConfig, Problem
from .spec import RECORDER_PORT, ClusterAccessSpec


def mixed_acls_problem(key: str) -> Problem:
    """A base whose acls already mix legacy users/ports with src/dst entries."""
    return Problem(
        key,
        "its acls mix old-style users/ports entries with new-style src/dst entries; "
        "Tailscale rejects such a policy (\"ACLs contain a mix of old-style...\").",
        "convert the old-style entries: rename \"users\" to \"src\" and \"ports\" to "
        "\"dst\" in each of them (or the other way round for all of them).",
    )


@dataclass(frozen=True)
class ClusterPlan:
    spec: ClusterAccessSpec
    fragment: dict[str, Any]
    """The policy sections this cluster needs."""
    base_text: str
    """The base policy file's text ("" without one)."""
    merged: dict[str, Any]
    """Base + fragment."""
    base_document: hujson.PolicyDocument | None
    access: list[AccessRow]
    warnings: list[str]
    secrets: SecretInputs = field(default_factory=SecretInputs, repr=False, compare=False)
    """The secret values the components hand on (never shown)."""
    format_notes: list[str] = field(default_factory=list)
    """Why the written policy could not keep the base file's text (empty normally; also in
    `warnings`)."""
    spliced_policy: str | None = field(default=None, repr=False)
    """The written policy when it was rendered from a base file's text."""

    @cached_property
    def fragment_hujson(self) -> str:
        return hujson.dumps(self.fragment)

    @property
    def policy_data(self) -> dict[str, Any]:
        """What `policy` parses back to: the merged policy, or the fragment in fragment mode
        (the splice is checked to give the merged data back; the ownership record is a
        comment)."""
        return self.merged if self.spec.policy.manage else self.fragment

    @cached_property
    def policy(self) -> str:
        """HuJSON the stack writes: base + fragment, or the fragment alone in fragment mode.

        Rendered on first use: the program validates a stack more often than it shows it."""
        if not self.spec.policy.manage:
            return self.fragment_hujson
        document = self.base_document or hujson.PolicyDocument({})
        text = (self.spliced_policy if self.spliced_policy is not None
                else document.dumps(self.merged))
        return mark_owned(text, self.merged,
                          self.base_document.data if self.base_document else None)


def plan_cluster(
    raw: Mapping[str, Any], project_root: Path, *, prefix: str = "", subject: str = "configuration",
    spelling: Spelling = "config",
) -> ClusterPlan:
    """Validate and render one cluster; raise `InvalidConfig` listing every problem.

    `raw` is stack config (camelCase keys) or, with `spelling="args"`, component args."""
    policy_settings = raw.get("policy")
    base_path = ""
    if isinstance(policy_settings, Mapping) and isinstance(policy_settings.get("base"), str):
        base_path = policy_settings["base"]
    given_text = None
    if isinstance(policy_settings, Mapping) and not base_path:
        given_text = policy_settings.get("baseText", policy_settings.get("base_text"))
    if isinstance(given_text, str) and given_text.strip():
        document, base_text, problems = parse_base_text(given_text)
    else:
        document, base_text, problems = read_base_policy(base_path, project_root)
    base = document.data if document else None
    try:
        spec, secrets = read_cluster(raw, base_policy=base, spelling=spelling, prefix=prefix,
                                     subject=subject)
    except InvalidConfig as error:
        raise InvalidConfig(problems + error.problems, prefix=prefix, subject=subject) from None
    if problems:
        raise InvalidConfig(problems, prefix=prefix, subject=subject)

    if base is not None and acls_style(base) == "mixed":
        raise InvalidConfig([mixed_acls_problem("policy.base")], prefix=prefix, subject=subject)
    notes: list[str] = []
    name = spec.cluster or "stack"
    planned = plan_fragment(spec, base, notes, name=name)
    fragment = planned.fragment
    try:
        if planned.probe is not None:
            # The base and the other sections are merged already; only the tests join them,
            # and they add no network rule: the model the tests were decided on stays valid.
            merged = merge_policies(planned.probe, [(spec.cluster, {"tests": fragment["tests"]})])
            test_origins = origins(merged, base, [(name, fragment)], ("tests",))
            origin_of = Origins({**planned.rule_origins.by_section, **test_origins.by_section})
            model = planned.model
        else:
            # The sections conflict with the base: this merge fails, listing every conflict.
            merged = merge_policies(base or {}, [(spec.cluster, fragment)])
            origin_of = origins(merged, base, [(name, fragment)])
            model = build_model(merged, origin_of)
    except MergeError as error:
        raise InvalidConfig(
            [Problem("policy.base", conflict.describe()) for conflict in error.conflicts],
            prefix=prefix,
            subject=subject,
        ) from None
    where = f"{spec.cluster}: " if spec.cluster else ""
    verified = verify_policy(merged, origin_of, key="policy.base", where=where, model=model)
    if verified.problems:
        raise InvalidConfig(verified.problems, prefix=prefix, subject=subject)
    reach_targets = [(spec.endpoint_tag, port, "API server proxy") for port in spec.endpoint_ports]
    if spec.recorder_deployed:
        reach_targets.append((spec.tags.recorder, RECORDER_PORT, "recorder"))
    rows = access_matrix(spec)
    if spec.proxy.high_availability and spec.tags.proxy_group == spec.tags.proxy:
        notes.append(
            f"{where}tags.proxyGroup is tags.proxy ({spec.tags.proxy}): the API server grants, "
            "network rules and autoApprovers reach every proxy the operator creates (ingress, "
            "egress, connectors), not only the ProxyGroup; give the ProxyGroup its own tag."
        )
    spliced: str | None = None
    format_notes: list[str] = []
    if spec.policy.manage and document is not None and document.data:
        # The base file's text with the stack's entries spliced in (see policy.formatted).
        rendered = render_merged(base_text, merged, [(spec.cluster or "stack", fragment)],
                                 base_path or "policy.base")
        spliced, format_notes = rendered.text, [f"{where}{note}" for note in rendered.notes]
    return ClusterPlan(
        spec=spec,
        fragment=fragment,
        base_text=base_text,
        merged=merged,
        base_document=document,
        access=rows,
        warnings=access_warnings(spec, rows) + notes + verified.warnings
        + base_reach_warnings(model, origin_of, reach_targets, where) + format_notes,
        secrets=secrets,
        format_notes=format_notes,
        spliced_policy=spliced,
    )
