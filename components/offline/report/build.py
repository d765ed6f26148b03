"""Turn a recorded program run into `PlanData`. The only report module that needs Pulumi."""

import heapq
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ...core.kubernetes_rights import sensitive_rights
from ...core.secret_keys import SECRET_KEYS_BY_COMPONENT
from ..runner import ProgramRun, Registration, Secret, Unknown, replace_markers
from .model import (
    ACCESS_FIELDS,
    SECRET_TEXT,
    UNKNOWN_TEXT,
    PlanData,
    PlanError,
    deep_sorted,
    urn_parts,
)

ACL_TYPE = "tailscale:index/acl:Acl"
# Kubernetes type tokens that are not one object of the cluster's API.
_NOT_OBJECTS = frozenset({"helm.sh", "yaml", "kustomize"})
_KUBE_TYPE = re.compile(
    r"^kubernetes:(?P<group>[^:/]+)/(?P<version>[^:/]+):(?P<kind>[A-Za-z0-9]+)$")
_SECRET_DATA_FIELDS = ("data", "stringData")


def scrub(value: Any) -> Any:
    """Replace the recorder's Secret/Unknown markers by their text."""
    return replace_markers(value, SECRET_TEXT, UNKNOWN_TEXT)


def creation_order(registrations: Sequence[Registration]) -> list[Registration]:
    """Parents and dependencies first; ties by URN, so the order never depends on timing."""
    by_urn = {r.urn: r for r in registrations}
    waiting_on = {r.urn: {d for d in (r.parent, *r.dependencies) if d in by_urn and d != r.urn}
                  for r in registrations}
    dependents: dict[str, list[str]] = {urn: [] for urn in by_urn}
    for urn, before in waiting_on.items():
        for other in before:
            dependents[other].append(urn)
    ready = [urn for urn, before in waiting_on.items() if not before]
    heapq.heapify(ready)
    ordered: list[Registration] = []
    while ready:
        urn = heapq.heappop(ready)
        ordered.append(by_urn[urn])
        for dependent in dependents[urn]:
            waiting_on[dependent].discard(urn)
            if not waiting_on[dependent]:
                heapq.heappush(ready, dependent)
    done = {r.urn for r in ordered}
    # A cycle cannot come from the engine; keep everything anyway.
    ordered += sorted((r for r in registrations if r.urn not in done), key=lambda r: r.urn)
    return ordered


def kubernetes_object(registration: Registration,
                      inputs: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The full object a `kubernetes:<group>/<version>:<Kind>` resource creates, else None.

    `inputs`: the registration's inputs already scrubbed, when the caller has them."""
    match = _KUBE_TYPE.match(registration.type)
    if match is None or match["group"] in _NOT_OBJECTS:
        return None
    group, version, kind = match["group"], match["version"], match["kind"]
    if inputs is None:
        inputs = scrub(registration.inputs)
    body = {key: value for key, value in inputs.items()
            if key not in ("apiVersion", "kind", "metadata") and value is not None}
    metadata = dict(inputs.get("metadata") or {})
    # Pulumi auto-names objects without a name: known only at `pulumi up`.
    metadata.setdefault("name", UNKNOWN_TEXT)
    if group == "core" and version == "v1" and kind == "Secret":
        # The component's declared keys, when the whole map arrived as one secret.
        declared = SECRET_KEYS_BY_COMPONENT.get(urn_parts(registration.parent or "")[0], ())
        for key in _SECRET_DATA_FIELDS:
            if key in body:
                body[key] = _masked(body[key], declared if key == "stringData" else ())
    return {
        "apiVersion": version if group == "core" else f"{group}/{version}",
        "kind": kind,
        "metadata": deep_sorted(metadata),
        **{key: deep_sorted(body[key]) for key in sorted(body)},
    }


def _masked(data: Any, declared: Sequence[str] = ()) -> Any:
    # Keys of Secret data are not secret; values always are, even if they arrived in plaintext.
    if isinstance(data, Mapping):
        return {key: SECRET_TEXT for key in data}
    if data == SECRET_TEXT and declared:
        return {key: SECRET_TEXT for key in declared}
    return SECRET_TEXT


def helm_release(registration: Registration) -> dict[str, Any] | None:
    if registration.type != "kubernetes:helm.sh/v3:Release":
        return None
    inputs = scrub(registration.inputs)
    repository_opts = inputs.get("repositoryOpts") or {}
    return {
        "release": inputs.get("name", UNKNOWN_TEXT),
        "namespace": inputs.get("namespace", "default"),
        "chart": inputs.get("chart", UNKNOWN_TEXT),
        "version": inputs.get("version", UNKNOWN_TEXT),
        "repository": repository_opts.get("repo", "") if isinstance(repository_opts, Mapping)
        else repository_opts,
        "values": deep_sorted(inputs.get("values") or {}),
    }


def _policy(run: ProgramRun) -> tuple[str, bool]:
    acls = run.by_type(ACL_TYPE)
    if len(acls) > 1:
        raise PlanError(f"the program writes the tailnet policy {len(acls)} times "
                        f"({', '.join(r.name for r in acls)}); a tailnet has one policy file.")
    if acls:
        text, managed = acls[0].inputs.get("acl"), True
    else:
        text, managed = run.outputs.get("policyFragment"), False
    if isinstance(text, Secret | Unknown) or not isinstance(text, str):
        raise PlanError("the tailnet policy is not known before `pulumi up` "
                        f"({'acl input' if managed else 'policyFragment output'} is "
                        f"{scrub(text)!r}); the offline plan cannot show it.")
    return text, managed


def _access_row(row: Any) -> dict[str, Any]:
    if not isinstance(row, Mapping):
        raise PlanError(f"accessMatrix holds {row!r}, not an access row.")
    row = dict(row)
    roles = row.get("clusterRoles")
    if "sensitiveRights" not in row and isinstance(roles, list):
        row["sensitiveRights"] = sensitive_rights(str(role) for role in roles)
    first = [key for key in ("cluster", *ACCESS_FIELDS) if key in row]
    return {key: row[key] for key in [*first, *sorted(set(row) - set(first))]}


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def build_plan(run: ProgramRun, *, stack: str, project: str) -> PlanData:
    """Everything the files show, from one recorded run: its registrations, its exported
    outputs and the warnings (and errors) it logged, once each in the order logged."""
    ordered = creation_order(run.registrations)
    policy, managed = _policy(run)
    inputs = [deep_sorted(scrub(r.inputs)) for r in ordered]
    resources = [{
        "urn": r.urn,
        "type": r.type,
        "name": r.name,
        "parent": r.parent,
        "dependencies": sorted(set(r.dependencies)),
        "inputs": r_inputs,
    } for r, r_inputs in zip(ordered, inputs, strict=True)]
    manifests = [obj for obj in map(kubernetes_object, ordered, inputs) if obj is not None]
    releases = [rel for rel in map(helm_release, ordered) if rel is not None]
    access = run.outputs.get("accessMatrix")
    if not isinstance(access, list):
        raise PlanError("the program exported no `accessMatrix` list; is this the "
                        "tailscale-cluster-access stack program?")
    warnings = [text for level, text in run.messages if level in ("warning", "error")]
    outputs = {key: scrub(value) for key, value in sorted(run.outputs.items())
               if key not in ("accessMatrix", "policyFragment")}
    return PlanData(stack=stack, project=project, policy=policy, policy_managed=managed,
                    resources=resources, manifests=manifests, helm_releases=releases,
                    access=[_access_row(scrub(row)) for row in access],
                    warnings=_unique(warnings), outputs=outputs)
