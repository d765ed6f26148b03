"""The chart's own RBAC, for the review: the most privileged thing a stack installs.

The operator and its proxies hold cluster-wide rights (the auth proxy impersonates any user or
group), so whoever controls their pods holds what those rights give. This lists every Role and
ClusterRole the rendered chart creates, with the sensitive rights the plan's vocabulary names
(`core.kubernetes_rights`) and the subjects bound to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tailscale_cluster_access.core.kubernetes_rights import rule_rights

ROLE_KINDS = ("ClusterRole", "Role")
BINDING_KINDS = {"ClusterRoleBinding": "ClusterRole", "RoleBinding": "Role"}


def _where(doc: Mapping[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name')}" if namespace else str(meta.get("name"))


def _subject(subject: Mapping[str, Any]) -> str:
    namespace = subject.get("namespace")
    name = f"{namespace}/{subject.get('name')}" if namespace else str(subject.get("name"))
    return f"{subject.get('kind')} {name}"


def chart_rbac(docs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per role: kind, name, sensitive rights, bound subjects (sorted, stable)."""
    docs = [doc for doc in docs if isinstance(doc, Mapping)]
    bound: dict[tuple[str, str], set[str]] = {}
    for doc in docs:
        role_kind = BINDING_KINDS.get(str(doc.get("kind")))
        ref = doc.get("roleRef") or {}
        if role_kind is None or ref.get("kind") not in ROLE_KINDS:
            continue
        namespace = (doc.get("metadata") or {}).get("namespace") if ref["kind"] == "Role" else None
        name = str(ref.get("name"))
        key = (str(ref["kind"]), f"{namespace}/{name}" if namespace else name)
        bound.setdefault(key, set()).update(_subject(s) for s in doc.get("subjects") or ())
    rows = []
    for doc in docs:
        if doc.get("kind") not in ROLE_KINDS:
            continue
        key = (str(doc["kind"]), _where(doc))
        rows.append({"kind": key[0], "name": key[1],
                     "sensitiveRights": sorted(rule_rights(doc.get("rules") or ())),
                     "subjects": sorted(bound.get(key, ()))})
    return sorted(rows, key=lambda row: (row["kind"], row["name"]))


def rbac_markdown(stack: str, chart: str, rows: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"# RBAC of the operator chart, stack `{stack}`", "",
             f"Rendered from {chart}. Whoever controls a pod running as a subject below holds "
             "its rights; `impersonate` lets the auth proxy act as any user or group, so the "
             "operator and proxy pods are as privileged as cluster-admin.", "",
             "| Kind | Name | Sensitive rights | Bound to |", "|---|---|---|---|"]
    for row in rows:
        rights = ", ".join(row["sensitiveRights"]) or "—"
        subjects = ", ".join(row["subjects"]) or "—"
        lines.append(f"| {row['kind']} | `{row['name']}` | {rights} | {subjects} |")
    return "\n".join(lines) + "\n"
