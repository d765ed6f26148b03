"""The tailnet (fleet) stack's config: which cluster stacks, which pending clusters, and the
base policy."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base_policy import read_base_policy
from ..identifiers import DNS_LABEL, STACK_NAME, Identifier
from ..problems import InvalidConfig, Problem


@dataclass(frozen=True)
class FleetConfig:
    clusters: tuple[str, ...]
    pending_clusters: tuple[str, ...]
    base_path: str
    base_text: str
    adopt_existing: bool


def unique_names(items: Sequence[Any], key: str, pattern: Identifier, what: str,
                 fix: str) -> tuple[list[str], list[Problem]]:
    """The valid, distinct names in `items`, and a problem for each other entry."""
    names: list[str] = []
    problems: list[Problem] = []
    for index, item in enumerate(items):
        item_key = f"{key}[{index}]"
        if not isinstance(item, str) or not pattern.match(item):
            problems.append(Problem(item_key, f"{json.dumps(item)} is not {what}.", fix))
        elif item in names:
            problems.append(Problem(item_key, f'"{item}" is listed twice.',
                                    "remove the duplicate."))
        else:
            names.append(item)
    return names, problems


def parse_fleet_config(raw: Mapping[str, Any], project_root: Path, *, prefix: str = "",
                       subject: str = "configuration") -> FleetConfig:
    """Validate the tailnet stack's config: `clusters`, `pendingClusters`, `policy.base`,
    `policy.adoptExisting`."""
    problems: list[Problem] = []
    clusters: list[str] = []
    value = raw.get("clusters")
    # A fleet's first cluster is pending before any cluster stack is deployed.
    has_pending = bool(raw.get("pendingClusters"))
    if value is None:
        if not has_pending:
            problems.append(Problem("clusters", "is required.",
                                    "list the cluster stacks, e.g. [acme/tailscale-cluster-"
                                    "access/gpu-east, acme/tailscale-cluster-access/gpu-west]."))
    elif not isinstance(value, list) or (not value and not has_pending):
        problems.append(Problem("clusters", "expected a non-empty list of stack names.",
                                "write it as a YAML list of `<org>/<project>/<stack>`."))
    else:
        clusters, found = unique_names(value, "clusters", STACK_NAME, "a stack name",
                                       "use `<org>/<project>/<stack>` as `pulumi stack ls "
                                       "--all` shows it.")
        problems.extend(found)
    pending: list[str] = []
    value = raw.get("pendingClusters")
    if value is not None and not isinstance(value, list):
        problems.append(Problem("pendingClusters", "expected a list of cluster names.",
                                "write it as a YAML list, e.g. [gpu-north]."))
    elif value is not None:
        pending, found = unique_names(value, "pendingClusters", DNS_LABEL, "a cluster name",
                                      "use the new cluster stack's `cluster` value (a DNS "
                                      "label).")
        problems.extend(found)
    policy = raw.get("policy", {})
    base_path = ""
    adopt = False
    if not isinstance(policy, Mapping):
        problems.append(Problem("policy", "expected an object with base and adoptExisting."))
        policy = {}
    for key in policy:
        if key not in ("base", "adoptExisting"):
            problems.append(Problem(f"policy.{key}", "is not a known setting.",
                                    "check the spelling; known keys here: adoptExisting, base."))
    if policy.get("base") is not None:
        if isinstance(policy["base"], str):
            base_path = policy["base"]
        else:
            problems.append(Problem("policy.base", "expected a path (a string)."))
    adopt_value = policy.get("adoptExisting", False)
    if adopt_value in (True, "true"):
        adopt = True
    elif adopt_value not in (False, "false", None):
        problems.append(Problem("policy.adoptExisting", "expected true or false.",
                                "write true or false without quotes."))
    for key in raw:
        if key not in ("clusters", "pendingClusters", "policy"):
            problems.append(Problem(key, "is not a known setting.",
                                    "check the spelling; known keys here: clusters, "
                                    "pendingClusters, policy."))
    base_text = ""
    if base_path:
        _, base_text, found = read_base_policy(base_path, project_root)
        problems += found
    if not base_path and "policy.base" not in {problem.key for problem in problems}:
        problems.append(Problem("policy.base", "is required: the fleet writes the whole tailnet "
                                "policy, so without a base every rule other teams wrote (on a "
                                "new tailnet, the default allow-all rule) would be dropped.",
                                "export the live policy into a file and point policy.base at "
                                "it; to replace the whole policy on purpose, point it at a file "
                                "that holds {}."))
    if adopt and not base_path:
        problems.append(Problem("policy.adoptExisting",
                                "would replace the live policy with the clusters' fragments only.",
                                "export the live policy into a file and set policy.base to it "
                                "first, so that other teams' rules survive."))
    if problems:
        raise InvalidConfig(problems, prefix=prefix, subject=subject)
    return FleetConfig(clusters=tuple(clusters), pending_clusters=tuple(pending),
                       base_path=base_path, base_text=base_text, adopt_existing=adopt)
