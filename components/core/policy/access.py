"""The access matrix: who on the tailnet gets which Kubernetes rights, through which endpoint.

One row per tailnet source, with the union of the rules that name it, as Tailscale applies
them: the proxy unites the capabilities of every grant that applies to a caller, so a session
is recorded when any applicable grant names a recorder, and recording is enforced when any
applicable grant enforces it. A grant with a posture applies only to devices that meet it, so
it vouches for recording only when every rule of the source records (or it has no posture).
A source's posture is required only if every rule reaching it requires one; the row lists the
alternatives (meeting any one of them is enough).
"""

from dataclasses import dataclass
from typing import Any

from ..config import is_broad_source
from ..spec import ADMIN_CLUSTER_ROLES, AccessRule, ClusterAccessSpec


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


def _on_every_path(flags: list[tuple[bool, tuple[str, ...]]]) -> bool:
    """Whether some applicable rule sets the flag whatever the device's posture.

    `flags` is (flag, posture) per rule of one source."""
    if all(flag for flag, _ in flags):
        return True
    return any(flag and not posture for flag, posture in flags)


def access_matrix(spec: ClusterAccessSpec) -> list[AccessRow]:
    recording_on = spec.session_recording.enabled
    by_source: dict[str, list[AccessRule]] = {}
    for rule in spec.access:
        for src in rule.src:
            by_source.setdefault(src, []).append(rule)
    rows: list[AccessRow] = []
    for src, rules in by_source.items():
        groups: tuple[str, ...] = ()
        roles: tuple[str, ...] = ()
        for rule in rules:
            groups = _union(groups, rule.kubernetes_groups)
            for group in rule.kubernetes_groups:
                roles = _union(roles, spec.cluster_roles_for(group))
        recorded = [(rule.record_sessions and recording_on, rule.posture) for rule in rules]
        enforced = [(flag and spec.session_recording.enforce, posture)
                    for flag, posture in recorded]
        posture: tuple[str, ...] = ()
        if all(rule.posture for rule in rules):
            for rule in rules:
                posture = _union(posture, rule.posture)
        rows.append(AccessRow(
            src=src,
            endpoint=spec.endpoint_hostname,
            ports=spec.endpoint_ports,
            kubernetes_groups=groups,
            cluster_roles=roles,
            recorded=_on_every_path(recorded),
            enforced=_on_every_path(enforced),
            posture=posture,
        ))
    return rows


def access_warnings(spec: ClusterAccessSpec, rows: list[AccessRow]) -> list[str]:
    """Things a security reviewer should look at twice, even when they are allowed."""
    warnings: list[str] = []
    where = f"{spec.cluster}: " if spec.cluster else ""
    if not rows:
        warnings.append(
            f"{where}access grants nothing: no tailnet source reaches this cluster, so the "
            "operator and its proxy serve nobody (add rules under access)."
        )
    for row in rows:
        if not row.cluster_roles:
            warnings.append(
                f"{where}{row.src} gets Kubernetes groups {', '.join(row.kubernetes_groups)}, "
                "which no ClusterRole of this stack is bound to: it can do nothing in the "
                "cluster unless a binding outside this stack exists (add a roleBinding)."
            )
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
