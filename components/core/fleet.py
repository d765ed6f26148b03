"""A fleet of clusters in one tailnet: collision checks, the merged policy and the fleet-wide
access matrix, from the outputs of the cluster stacks. Plain data, no Pulumi.

Each cluster stack runs in fragment mode (`policy.manage: false`) and exports its policy
fragment, access matrix and `fleetIdentity`; the `tailnet` program reads those outputs and
calls `plan_fleet`, which refuses a fleet whose clusters would open each other's API servers.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cluster_plan import ClusterPlan, plan_cluster
from .config import is_scim_group
from .config.fleet import parse_fleet_config
from .policy import hujson
from .policy.compose import Composed, compose, parse_base
from .policy.sections import section
from .problems import InvalidConfig, Problem
from .spec import ClusterAccessSpec, Tags, fleet_tags

__all__ = [
    "FleetMember", "FleetPlan", "cluster_stack_outputs", "find_collisions",
    "fleet_access_matrix", "fleet_identity", "fleet_tags", "member_from_outputs",
    "parse_fleet_config", "pending_fragment", "plan_fleet", "synthetic_cluster_config",
    "synthetic_fleet", "undefined_references",
]

FLEET_NAMESPACE = "tailscale-cluster-access-tailnet"
TAG_ROLES = ("operator", "proxy", "recorder")
PER_CLUSTER_FIX = ("set tagScheme: per-cluster in every cluster stack (tags become "
                   "tag:k8s-operator-<cluster>, tag:k8s-<cluster>, tag:tsrecorder-<cluster>), or "
                   "give each cluster its own tags.operator, tags.proxy and tags.recorder.")


def fleet_identity(spec: ClusterAccessSpec, hostname: Any = None) -> dict[str, Any]:
    """What a cluster stack exports as `fleetIdentity`: everything a collision check needs.

    `hostname` is the tailnet hostname kubectl uses; pass the real one when it carries a random
    suffix (the spec knows only the part before the suffix).
    """
    return {
        "cluster": spec.cluster,
        "tags": {"operator": spec.tags.operator, "proxy": spec.tags.proxy,
                 "recorder": spec.tags.recorder, "proxyGroup": spec.tags.proxy_group},
        "endpointTag": spec.endpoint_tag,
        "hostname": spec.endpoint_hostname if hostname is None else hostname,
        "managesPolicy": spec.policy.manage,
    }


def cluster_stack_outputs(plan: ClusterPlan, hostname: Any = None) -> dict[str, Any]:
    """The outputs of a cluster stack the tailnet program reads, computed from its plan.

    `hostname` may be a `pulumi.Output` (the program passes the proxy's real hostname)."""
    host = plan.spec.endpoint_hostname if hostname is None else hostname
    return {
        "policyFragment": plan.fragment_hujson,
        "accessMatrix": [row.to_json() for row in plan.access],
        "proxyHostname": host,
        "fleetIdentity": fleet_identity(plan.spec, host),
    }


@dataclass(frozen=True)
class FleetMember:
    """One cluster stack, as the tailnet program sees it."""

    stack: str
    cluster: str
    tags: Tags
    endpoint_tag: str
    hostname: str
    manages_policy: bool
    fragment: str
    """The cluster's policy fragment (HuJSON)."""
    access: tuple[Mapping[str, Any], ...]
    """Its access matrix rows, as the cluster stack exports them."""


def _where(stack: str) -> str:
    return f"stack {stack}"


def member_from_outputs(stack: str, outputs: Mapping[str, Any] | None
                        ) -> tuple[FleetMember | None, list[Problem]]:
    """Read one cluster stack's outputs; problems say which output is missing or malformed."""
    where = _where(stack)
    update = (f"update the cluster stack to this version of tailscale-cluster-access and run "
              f"`pulumi up` in it (`pulumi stack output --stack {stack}` shows what it exports).")
    if not outputs:
        return None, [Problem(where, "has no outputs: it does not exist, was never deployed, or "
                              "this tailnet stack may not read it.",
                              "check the name in clusters (`<org>/<project>/<stack>`) and run "
                              "`pulumi up` in the cluster stack first.")]
    problems: list[Problem] = []
    identity = outputs.get("fleetIdentity")
    fragment = outputs.get("policyFragment")
    access = outputs.get("accessMatrix")
    hostname = outputs.get("proxyHostname")
    expected = (("fleetIdentity", identity, Mapping), ("policyFragment", fragment, str),
                ("accessMatrix", access, list))
    for key, value, kind in expected:
        if not isinstance(value, kind):
            problems.append(Problem(where, f"has no usable output {key}.", update))
    if problems:
        return None, problems
    assert isinstance(identity, Mapping) and isinstance(fragment, str)
    assert isinstance(access, list)
    tags = identity.get("tags")
    fields = {"cluster": identity.get("cluster"), "endpointTag": identity.get("endpointTag")}
    if not isinstance(tags, Mapping) or not all(isinstance(tags.get(r), str) for r in TAG_ROLES):
        fields["tags"] = None
    if not isinstance(hostname, str) or not hostname:
        hostname = identity.get("hostname")
    fields["hostname"] = hostname
    for key, value in fields.items():
        if not isinstance(value, str) or not value:
            problems.append(Problem(where, f"fleetIdentity.{key} is missing.", update))
    if not isinstance(identity.get("managesPolicy"), bool):
        problems.append(Problem(where, "fleetIdentity.managesPolicy is missing.", update))
    if problems:
        return None, problems
    assert isinstance(tags, Mapping)
    return FleetMember(
        stack=stack, cluster=str(fields["cluster"]),
        # Stacks deployed before tags.proxyGroup existed export no proxyGroup tag.
        tags=Tags(operator=tags["operator"], proxy=tags["proxy"], recorder=tags["recorder"],
                  proxy_group=str(tags.get("proxyGroup") or tags["proxy"])),
        endpoint_tag=str(fields["endpointTag"]), hostname=str(hostname),
        manages_policy=bool(identity["managesPolicy"]),
        fragment=fragment, access=tuple(row for row in access if isinstance(row, Mapping)),
    ), []



def find_collisions(members: Sequence[FleetMember]) -> list[Problem]:
    """Everything that would let one cluster's grants, devices or name reach another's."""
    problems: list[Problem] = []
    by_stack: dict[str, list[FleetMember]] = {}
    by_cluster: dict[str, list[FleetMember]] = {}
    by_tag: dict[str, list[tuple[FleetMember, str]]] = {}
    by_hostname: dict[str, list[FleetMember]] = {}
    for member in members:
        by_stack.setdefault(member.stack, []).append(member)
        by_cluster.setdefault(member.cluster, []).append(member)
        by_hostname.setdefault(member.hostname, []).append(member)
        # The ProxyGroup's tag is in use only where the ProxyGroup serves the API.
        in_use = (*TAG_ROLES, "proxy_group") if member.endpoint_tag == member.tags.proxy_group \
            and member.tags.proxy_group != member.tags.proxy else TAG_ROLES
        for role in in_use:
            by_tag.setdefault(getattr(member.tags, role), []).append((member, role))
        if member.manages_policy:
            problems.append(Problem(
                _where(member.stack),
                "writes the tailnet policy itself (policy.manage is true), so it and this "
                "tailnet stack would overwrite each other's policy.",
                f"set policy.manage: false in that cluster stack (`pulumi config set --path "
                f"policy.manage false --stack {member.stack}`) and run `pulumi up` there."))
    for stack, same in by_stack.items():
        if len(same) > 1:
            problems.append(Problem("clusters", f"lists {stack} {len(same)} times.",
                                    "list each cluster stack once."))
    for cluster, same in by_cluster.items():
        stacks = sorted({m.stack for m in same})
        if len(stacks) > 1:
            problems.append(Problem(
                "clusters", f'stacks {", ".join(stacks)} all call their cluster "{cluster}".',
                "give every cluster stack its own `cluster` name."))
    for tag, users in by_tag.items():
        clusters = sorted({m.cluster for m, _ in users})
        if len(clusters) > 1:
            roles = ", ".join(f"{m.cluster} ({role})" for m, role in users)
            problems.append(Problem(
                "clusters", f'"{tag}" is a tag of several clusters: {roles}. A grant to one of '
                "them would reach the others' devices too.", PER_CLUSTER_FIX))
    for hostname, same in by_hostname.items():
        clusters = sorted({m.cluster for m in same})
        if len(clusters) > 1:
            problems.append(Problem(
                "clusters", f'clusters {", ".join(clusters)} all serve kubectl as "{hostname}"; '
                "Tailscale renames duplicates, so kubeconfigs would reach the wrong cluster.",
                "give each cluster its own hostname: the ProxyGroup hostname defaults to the "
                "cluster name (proxy.hostname), the in-process proxy is operator.hostname "
                "(default tailscale-operator); proxy.hostnameSuffix: random helps PR stacks."))
    return problems


def _refs(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                yield item


def _tag_of(selector: str) -> str:
    """`tag:k8s-a:443` -> `tag:k8s-a`; acl destinations carry ports."""
    name, _, _ = selector.partition(":")[2].partition(":")
    return f"tag:{name}"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def undefined_references(policy: Mapping[str, Any]) -> list[Problem]:
    """Groups, tags and postures the merged policy uses but does not define.

    Only the tailnet stack sees the whole policy; Tailscale would reject it at `pulumi up`.
    """
    groups, owners, postures = (_mapping(section(policy, name))
                                for name in ("groups", "tagOwners", "postures"))
    missing: dict[str, set[str]] = {"group": set(), "tag": set(), "posture": set()}
    for name in ("grants", "acls", "tests"):
        rules = section(policy, name)
        for rule in rules if isinstance(rules, list) else []:
            if not isinstance(rule, Mapping):
                continue
            selectors = list(_refs(rule.get("src")))
            for key in ("dst", "accept", "deny"):
                selectors += list(_refs(rule.get(key)))
            for selector in selectors:
                if selector.startswith("group:") and not is_scim_group(selector):
                    if selector not in groups:
                        missing["group"].add(selector)
                elif selector.startswith("tag:") and _tag_of(selector) not in owners:
                    missing["tag"].add(_tag_of(selector))
            for posture in _refs(rule.get("srcPosture")):
                if posture not in postures:
                    missing["posture"].add(posture)
    fixes = {
        "group": "define it under groups in the base policy (policy.base), or in one cluster "
                 "stack's groups.",
        "tag": "add it to tagOwners in the base policy.",
        "posture": "define it under postures in the base policy, or in the cluster stack that "
                   "uses it.",
    }
    section_of = {"group": "groups", "tag": "tagOwners", "posture": "postures"}
    return [Problem("policy", f'"{name}" is used but not defined in {section_of[kind]}.',
                    fixes[kind])
            for kind in ("group", "tag", "posture") for name in sorted(missing[kind])]


def pending_fragment(cluster: str) -> dict[str, Any]:
    """The tags a cluster not deployed yet needs before its first `pulumi up`.

    Its stack creates an OAuth client tagged `tag:k8s-operator-<cluster>`, which Tailscale
    refuses unless the tag is in tagOwners; the stack's fragment only exists after that run.
    No grants: nobody reaches the cluster until its fragment replaces this. The approver for
    its ProxyGroup's Tailscale Service is there too, so that an HA proxy can become ready
    (and `pulumi up` stop waiting for it) before the grants arrive.
    """
    tags = fleet_tags(cluster)
    return {"tagOwners": {tags.operator: [], tags.proxy: [tags.operator],
                          tags.recorder: [tags.operator], tags.proxy_group: [tags.operator]},
            "autoApprovers": {"services": {tags.proxy_group: [tags.proxy_group]}}}


def pending_name(cluster: str) -> str:
    return f"pending cluster {cluster}"


def pending_collisions(members: Sequence[FleetMember], pending: Sequence[str]) -> list[Problem]:
    problems: list[Problem] = []
    deployed = {m.cluster: m for m in members}
    owners = {getattr(m.tags, role): m for m in members for role in (*TAG_ROLES, "proxy_group")}
    for index, cluster in enumerate(pending):
        key = f"pendingClusters[{index}]"
        if cluster in deployed:
            problems.append(Problem(key, f'"{cluster}" is deployed already ('
                                    f"{deployed[cluster].stack} exports its fragment).",
                                    "remove it from pendingClusters."))
            continue
        tags = fleet_tags(cluster)
        for tag in (tags.operator, tags.proxy, tags.recorder, tags.proxy_group):
            if tag in owners:
                problems.append(Problem(key, f'"{tag}" is already a tag of cluster '
                                        f"{owners[tag].cluster} ({owners[tag].stack}).",
                                        "choose another cluster name."))
    return problems


def fleet_access_matrix(members: Sequence[FleetMember]) -> list[dict[str, Any]]:
    """Every cluster's access rows, each with a `cluster` column and the real endpoint."""
    rows: list[dict[str, Any]] = []
    for member in sorted(members, key=lambda m: (m.cluster, m.stack)):
        for row in member.access:
            entry = {key: value for key, value in row.items() if key != "cluster"}
            # The cluster's own matrix names the hostname before a random suffix.
            entry["endpoint"] = member.hostname
            rows.append({"cluster": member.cluster, **entry})
    return rows


@dataclass(frozen=True)
class FleetPlan:
    members: tuple[FleetMember, ...]
    pending: tuple[str, ...]
    composed: Composed = field(repr=False)
    """The base plus every cluster's fragment, as verified (and written)."""
    access: list[dict[str, Any]]
    """The fleet access matrix: one row per cluster and tailnet source."""

    @property
    def merged(self) -> dict[str, Any]:
        return self.composed.data

    @property
    def warnings(self) -> tuple[str, ...]:
        """Policy tests the offline evaluator could not decide, and `format_notes`."""
        return (*self.composed.warnings, *self.composed.format_notes)

    @property
    def format_notes(self) -> tuple[str, ...]:
        """Why the policy could not keep the base file's text (empty normally)."""
        return tuple(self.composed.format_notes)

    @property
    def policy(self) -> str:
        """The complete tailnet policy (HuJSON) the tailnet program writes, the ownership
        record of the drift check included."""
        return self.composed.text

    @property
    def clusters(self) -> list[str]:
        return [m.cluster for m in self.members]

    @property
    def access_json(self) -> str:
        return json.dumps(self.access)


def plan_fleet(stack_outputs: Sequence[tuple[str, Mapping[str, Any] | None]],
               base_text: str = "", *, pending: Sequence[str] = (),
               base_source: str = "policy.base", subject: str = "fleet") -> FleetPlan:
    """Check the fleet and merge its fragments into the base policy.

    `stack_outputs` is `(stack name, outputs)` per cluster stack; `pending` names clusters
    whose stacks are not deployed yet (their tags only, see `pending_fragment`). Raises
    `InvalidConfig` listing every missing output, collision, merge conflict and undefined
    reference.
    """
    problems: list[Problem] = []
    members: list[FleetMember] = []
    for stack, outputs in stack_outputs:
        member, found = member_from_outputs(stack, outputs)
        problems += found
        if member is not None:
            members.append(member)
    problems += find_collisions(members)
    problems += pending_collisions(members, pending)
    document, found = parse_base(base_text, base_source)
    problems += found
    fragments: list[tuple[str, dict[str, Any]]] = []
    names = [m.cluster for m in members]
    unique = len(set(names)) == len(names)
    for member in members:
        try:
            parsed = hujson.parse(member.fragment, f"{member.stack} policyFragment").data
        except hujson.HujsonError as error:
            problems.append(Problem(_where(member.stack), f"policyFragment is not valid HuJSON: "
                                    f"{error}"))
            continue
        fragments.append((member.cluster if unique else member.stack, parsed))
    fragments += [(pending_name(cluster), pending_fragment(cluster)) for cluster in pending]
    if problems or document is None:
        raise InvalidConfig(problems, subject=subject)
    # Named by stack in the "added by" comments of the written policy.
    stack_of = {(m.cluster if unique else m.stack): m.stack for m in members}
    composed = compose(base_text, fragments, base=document, base_source=base_source,
                       labels=stack_of, check=undefined_references)
    if composed.problems:
        raise InvalidConfig(composed.problems, subject=subject)
    return FleetPlan(members=tuple(members), pending=tuple(pending), composed=composed,
                     access=fleet_access_matrix(members))


def synthetic_cluster_config(index: int, *, tag_scheme: str = "per-cluster") -> dict[str, Any]:
    """Config of the `index`-th cluster of a synthetic fleet (tests and the benchmark).

    The clusters vary the way real ones do: HA or in-process proxy, session recording on
    some, a team group per cluster beside the shared groups (which every cluster defines the
    same way, as a fleet with no base policy would).
    """
    cluster = f"gpu-{index:03d}"
    team = f"group:team-{index:03d}"
    config: dict[str, Any] = {
        "cluster": cluster,
        "tagScheme": tag_scheme,
        "policy": {"manage": False},
        "groups": {"group:ml-engineers": ["alice@example.com"],
                   "group:ml-readers": ["bob@example.com"],
                   team: [f"user{index}@example.com"]},
        "access": [{"src": ["group:ml-engineers"], "kubernetesGroups": ["system:masters"],
                    "recordSessions": index % 3 == 0},
                   {"src": ["group:ml-readers", team], "kubernetesGroups": ["tailnet-readers"]}],
        "roleBindings": [{"group": "tailnet-readers", "clusterRole": "view"}],
    }
    if index % 2:
        config["proxy"] = {"highAvailability": True}
    else:
        config["operator"] = {"hostname": f"{cluster}-operator"}
    if index % 3 == 0:
        config["sessionRecording"] = {"enabled": True}
    return config


def synthetic_fleet(count: int, *, project: str = "acme/tailscale-cluster-access",
                    project_root: Path = Path(".")) -> dict[str, dict[str, Any]]:
    """`{stack name: outputs}` of `count` cluster stacks, each really planned."""
    fleet: dict[str, dict[str, Any]] = {}
    for index in range(count):
        config = synthetic_cluster_config(index)
        plan = plan_cluster(config, project_root)
        fleet[f"{project}/{config['cluster']}"] = cluster_stack_outputs(plan)
    return fleet
