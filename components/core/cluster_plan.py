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

from .base_policy import load_base
from .config import SecretInputs, Source, read_cluster
from .config.recording import recording_warnings
from .lockdown import discovery_warnings
from .policy import hujson
from .policy.access import AccessRow, access_matrix, access_warnings
from .policy.blast_radius import recorder_outage_warnings
from .policy.break_glass import break_glass_problems
from .policy.build import compose_cluster
from .policy.compose import Composed
from .policy.verify import base_reach_warnings
from .problems import InvalidConfig
from .spec import RECORDER_PORT, ClusterAccessSpec


@dataclass(frozen=True)
class ClusterPlan:
    spec: ClusterAccessSpec
    composed: Composed = field(repr=False)
    """The base policy with this cluster's fragment, as verified (and written)."""
    base_text: str
    """The base policy file's text ("" without one)."""
    access: list[AccessRow]
    warnings: list[str]
    secrets: SecretInputs = field(default_factory=SecretInputs, repr=False, compare=False)
    """The secret values the components hand on (never shown)."""

    @property
    def fragment(self) -> dict[str, Any]:
        """The policy sections this cluster needs (in the base's acls syntax)."""
        return self.composed.fragments[0][1]

    @property
    def merged(self) -> dict[str, Any]:
        """Base + fragment."""
        return self.composed.data

    @property
    def format_notes(self) -> list[str]:
        """Why the written policy could not keep the base file's text (empty normally; also in
        `warnings`)."""
        return self.composed.format_notes

    @cached_property
    def fragment_hujson(self) -> str:
        return hujson.dumps(self.fragment)

    @property
    def policy(self) -> str:
        """HuJSON the stack writes: base + fragment, or the fragment alone in fragment mode."""
        return self.composed.text if self.spec.policy.manage else self.fragment_hujson


def plan_cluster(
    raw: Mapping[str, Any], project_root: Path | None, *, prefix: str = "",
    subject: str = "configuration",
    source: Source = "config",
) -> ClusterPlan:
    """Validate and render one cluster; raise `InvalidConfig` listing every problem.

    `raw` is stack config (camelCase keys) or, with `source="args"`, component args;
    `project_root` None: relative `policy.base` paths cannot be resolved (refused)."""
    _, document, base_text, problems = load_base(
        raw.get("policy"), project_root, text_key="baseText" if source == "config" else "base_text")
    base = document.data if document else None
    try:
        spec, secrets = read_cluster(raw, base_policy=base, source=source, prefix=prefix,
                                     subject=subject)
    except InvalidConfig as error:
        raise InvalidConfig(problems + error.problems, prefix=prefix, subject=subject) from None
    if problems:
        raise InvalidConfig(problems, prefix=prefix, subject=subject)

    notes: list[str] = []
    composed = compose_cluster(spec, base_text, document, notes, render=spec.policy.manage)
    if composed.problems:
        raise InvalidConfig(composed.problems, prefix=prefix, subject=subject)
    where = f"{spec.cluster}: " if spec.cluster else ""
    reach_targets = [(spec.endpoint_tag, port, "API server proxy") for port in spec.endpoint_ports]
    if spec.recorder_deployed:
        reach_targets.append((spec.tags.recorder, RECORDER_PORT, "recorder"))
    if spec.proxy.high_availability and spec.tags.proxy_group == spec.tags.proxy:
        notes.append(
            f"{where}tags.proxyGroup is tags.proxy ({spec.tags.proxy}): the API server grants, "
            "network rules and autoApprovers reach every proxy the operator creates (ingress, "
            "egress, connectors), not only the ProxyGroup; give the ProxyGroup its own tag."
        )
    assert composed.model is not None
    refused = break_glass_problems(spec, composed.model)
    if refused:
        raise InvalidConfig(refused, prefix=prefix, subject=subject)
    rows = access_matrix(spec, composed)
    return ClusterPlan(
        spec=spec,
        composed=composed,
        base_text=base_text,
        access=rows,
        warnings=access_warnings(spec, rows) + recording_warnings(spec)
        + recorder_outage_warnings(spec, rows) + notes + discovery_warnings(spec)
        + composed.warnings
        + base_reach_warnings(composed.model, composed.origins, reach_targets, where)
        + composed.format_notes,
        secrets=secrets,
    )
