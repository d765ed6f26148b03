"""The access matrix: who on the tailnet gets which Kubernetes rights, through which endpoint.

One row per tailnet source. When a source appears in several rules its groups and
roles are united, and it counts as recorded (or enforced) only if every path it has is,
because a single unrecorded path is enough to act unrecorded.
"""

from dataclasses import dataclass
from typing import Any

from ..config import is_broad_source
from ..spec import ADMIN_CLUSTER_ROLES, ClusterAccessSpec


@dataclass(frozen=True)
class AccessRow:
    src: str
    endpoint: str
    ports: tuple[int, ...]
    kubernetes_groups: tuple[str, ...]
    cluster_roles: tuple[str, ...]
    recorded: bool
    enforced: bool
    posture: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return bool(ADMIN_CLUSTER_ROLES & set(self.cluster_roles))

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "src": self.src,
            "endpoint": self.endpoint,
            "ports": list(self.ports),
            "kubernetesGroups": list(self.kubernetes_groups),
            "clusterRoles": list(self.cluster_roles),
            "recorded": self.recorded,
            "enforced": self.enforced,
            "posture": list(self.posture),
        }
        return row


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return first + tuple(item for item in second if item not in first)


def access_matrix(spec: ClusterAccessSpec) -> list[AccessRow]:
    rows: dict[str, AccessRow] = {}
    recording_on = spec.session_recording.enabled
    for rule in spec.access:
        roles: tuple[str, ...] = ()
        for group in rule.kubernetes_groups:
            roles = _union(roles, spec.cluster_roles_for(group))
        recorded = rule.record_sessions and recording_on
        enforced = recorded and spec.session_recording.enforce
        for src in rule.src:
            row = AccessRow(
                src=src,
                endpoint=spec.endpoint_hostname,
                ports=spec.endpoint_ports,
                kubernetes_groups=rule.kubernetes_groups,
                cluster_roles=roles,
                recorded=recorded,
                enforced=enforced,
                posture=rule.posture,
            )
            previous = rows.get(src)
            if previous is not None:
                row = AccessRow(
                    src=src,
                    endpoint=row.endpoint,
                    ports=row.ports,
                    kubernetes_groups=_union(previous.kubernetes_groups, row.kubernetes_groups),
                    cluster_roles=_union(previous.cluster_roles, row.cluster_roles),
                    recorded=previous.recorded and row.recorded,
                    enforced=previous.enforced and row.enforced,
                    # Postures of different rules are alternatives, not a conjunction.
                    posture=previous.posture if previous.posture == row.posture else (),
                )
            rows[src] = row
    return list(rows.values())


def access_warnings(spec: ClusterAccessSpec, rows: list[AccessRow]) -> list[str]:
    """Things a security reviewer should look at twice, even when they are allowed."""
    warnings: list[str] = []
    where = f"{spec.cluster}: " if spec.cluster else ""
    for row in rows:
        if row.is_admin and is_broad_source(row.src):
            warnings.append(
                f"{where}{row.src} is a broad source with cluster-admin (allowBroadAdmin is set)."
            )
        if row.is_admin and not row.recorded:
            warnings.append(
                f"{where}{row.src} has cluster-admin and its sessions are not recorded."
            )
        elif row.is_admin and not row.enforced:
            warnings.append(
                f"{where}{row.src} has cluster-admin; recording is not enforced "
                "(sessions proceed when the recorder is down)."
            )
    if spec.proxy.mode == "noauth":
        warnings.append(
            f"{where}the API server proxy runs in noauth mode: grants do not limit "
            "what callers can do (proxy.acknowledgeNoauth is set)."
        )
    return warnings
