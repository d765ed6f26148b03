"""The data of one plan, already free of secrets and Pulumi marker objects."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SECRET_TEXT = "[secret]"
UNKNOWN_TEXT = "[unknown]"

POLICY_FILE = "policy.hujson"
MANIFESTS_FILE = "manifests.yaml"
HELM_FILE = "helm-values.yaml"
RESOURCES_FILE = "resources.json"
ACCESS_JSON_FILE = "access.json"
ACCESS_MD_FILE = "access.md"
GRAPH_FILE = "graph.mmd"
SUMMARY_FILE = "summary.md"
POLICY_DIFF_FILE = "policy.diff"

PLAN_FILES = (POLICY_FILE, POLICY_DIFF_FILE, MANIFESTS_FILE, HELM_FILE, RESOURCES_FILE,
              ACCESS_JSON_FILE, ACCESS_MD_FILE, GRAPH_FILE, SUMMARY_FILE)
# Written beside the plan files: only a folder holding it is a previous plan that the next
# plan may replace (a folder of hand-written policy.hujson is not).
PLAN_MARKER = ".tailscale-cluster-access-plan"
PLAN_MARKER_TEXT = ("Written by `tailscale-cluster-access plan`: the next plan replaces this "
                    "folder as a whole.\n")

# How summary.md lists a warning (`compare` reads them back).
WARNING_BULLET = "- :warning: "

# Column order of an access row: `AccessRow.to_json`'s fields (`sensitiveRights` after the
# ClusterRoles they come from; the report computes them for rows exported without them).
ACCESS_FIELDS = ("src", "endpoint", "ports", "kubernetesGroups", "clusterRoles",
                 "sensitiveRights", "recorded", "enforced", "posture", "events", "failsClosed",
                 "kind", "origin", "broad")
# Row fields added after plans were first written: a plan made before them (the base of a
# pull request, say) has none, which is no change.
LATER_ACCESS_FIELDS = frozenset({"events", "failsClosed", "kind", "origin", "broad"})


def comparable(key: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether field `key` of two versions of an access row is compared."""
    return key not in LATER_ACCESS_FIELDS or (key in before and key in after)


class PlanError(Exception):
    """The plan cannot be made or read; the message says why (no traceback needed)."""


class PlanFolderError(PlanError):
    """A folder given as a plan is missing, incomplete or unreadable (bad input)."""


@dataclass
class PlanData:
    stack: str
    project: str
    policy: str
    """HuJSON the stack writes: the whole policy file, or only the fragment."""
    policy_managed: bool
    resources: list[dict[str, Any]]
    """`{urn, type, name, parent, dependencies, inputs}` in creation order."""
    manifests: list[dict[str, Any]]
    helm_releases: list[dict[str, Any]]
    access: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    base_policy: str = ""
    """The base policy's text the stack wrote into ("" in fragment mode or without one)."""
    base_name: str = "policy.base"
    """How `policy.diff` names the base: its path, or `policy.baseText`."""

    @property
    def stack_urn(self) -> str:
        return f"urn:pulumi:{self.stack}::{self.project}::pulumi:pulumi:Stack::" \
               f"{self.project}-{self.stack}"


def deep_sorted(value: Any) -> Any:
    """Mappings with sorted keys, recursively: stable files whatever the wire order was."""
    # Exact types first, as in runner.replace_markers: the ABC checks cost more than the walk.
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {key: deep_sorted(value[key]) for key in sorted(value)}
    if kind is list:
        return [deep_sorted(item) for item in value]
    if isinstance(value, Mapping):
        return {key: deep_sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [deep_sorted(item) for item in value]
    return value


def short_type(type_token: str) -> str:
    """`kubernetes:core/v1:Secret` -> `Secret`."""
    return type_token.rsplit(":", 1)[-1]


def urn_parts(urn: str) -> tuple[str, str]:
    """(type, name) of a URN `urn:pulumi:<stack>::<project>::<parent$...$type>::<name>`."""
    parts = urn.split("::")
    if len(parts) < 4:
        return "", urn
    return parts[2].rsplit("$", 1)[-1], "::".join(parts[3:])
