"""The access matrix: who on the tailnet gets which Kubernetes rights, through which endpoint.

The rows come from the MERGED policy (base + every fragment) and the cluster's RBAC, as the
operator's API server proxy decides them (`effective_access`): one row per tailnet source
with the union of every grant that applies to it, whoever wrote the grant. The proxy unites
the capabilities of every applicable grant, so a session is recorded when any applicable grant
names a recorder, and recording is enforced when any applicable grant enforces it. A grant
with a posture applies only to devices that meet it, so it vouches for recording only when
every grant of the source records (or it has no posture). A source's posture is required only
if every grant reaching it requires one; the row lists the alternatives.

Row kinds (`AccessRow.kind`):

- `grant`: the source holds `tailscale.com/cap/kubernetes` on the endpoint's tag and a network
  path to its port: impersonated with the grant's groups;
- `no-network-path`: the capability without a network rule to the port: no rights until one
  opens it (capabilities take effect only where network access exists);
- `tags-as-groups`: a tagged source that reaches the port without a kubernetes grant: the
  proxy impersonates its node with its tags as groups;
- `as-itself`: any other source that reaches the port without a kubernetes grant:
  impersonated as itself (a user by login name), with `system:authenticated`;
- `operator`: the operator's and the proxies' own ServiceAccounts, which may impersonate
  anyone (the chart's `tailscale-auth-proxy` ClusterRole);
- `deployer`: the `deployer` tag's grant row (`core/deploy.py`): the machine that runs
  `pulumi up` through the tailnet.
- `break-glass`: the sources of `breakGlass`, whose grants enforce no recording: the way in
  while the recorder is down.

`failsClosed`: some grant that may apply to the source sets `enforceRecorder`; the proxy
unions the values of every matching grant, so while the recorder is down (its tag resolves
to no address) every API request of the source gets 403, and with `enableEvents` a
recorder that cannot be reached answers every request with 502 (operator 1.94.1 and later,
`k8s-operator/api-proxy/proxy.go` `serveDefault`, `determineRecorderConfig`).
"""

from dataclasses import dataclass, field
from typing import Any, Final

from ..config import is_broad_source
from ..kubernetes_rights import sensitive_rights
from ..spec import ADMIN_CLUSTER_ROLES, ClusterAccessSpec
from .compose import Composed

GRANT: Final = "grant"
NO_NETWORK_PATH: Final = "no-network-path"
TAGS_AS_GROUPS: Final = "tags-as-groups"
AS_ITSELF: Final = "as-itself"
OPERATOR: Final = "operator"
BREAK_GLASS: Final = "break-glass"
DEPLOYER: Final = "deployer"
STACK_ORIGIN: Final = "stack"


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
    events: bool = False
    """Any applicable grant sets `enableEvents`: every API request is recorded."""
    fails_closed: bool = False
    """Some grant that may apply sets `enforceRecorder`: no API request gets through while
    the recorder is down."""
    kind: str = GRANT
    origin: tuple[str, ...] = (STACK_ORIGIN,)
    """Who wrote the rules behind the row: `stack`, `base grants[0]`, `<fragment> acls[2]`."""
    rights: tuple[str, ...] | None = None
    """Sensitive rights, when not those of `cluster_roles` (none without a network path, all
    for the operator)."""
    undecided: tuple[str, ...] = field(default=(), compare=False)
    """Why a grant or the network path of the row is not decided offline (both are counted:
    rights are shown rather than hidden)."""

    @property
    def sensitive_rights(self) -> list[str]:
        if self.rights is not None:
            return list(self.rights)
        return sensitive_rights(self.cluster_roles)

    @property
    def broad(self) -> bool:
        return is_broad_source(self.src)

    @property
    def is_admin(self) -> bool:
        return "cluster-admin" in self.sensitive_rights or bool(
            self.rights is None and ADMIN_CLUSTER_ROLES & set(self.cluster_roles))

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "src": self.src,
            "endpoint": self.endpoint,
            "ports": list(self.ports),
            "kubernetesGroups": list(self.kubernetes_groups),
            "clusterRoles": list(self.cluster_roles),
            "sensitiveRights": self.sensitive_rights,
            "recorded": self.recorded,
            "enforced": self.enforced,
            "posture": list(self.posture),
            "events": self.events,
            "failsClosed": self.fails_closed,
            "kind": self.kind,
            "origin": list(self.origin),
            "broad": self.broad,
        }
        return row


def access_matrix(spec: ClusterAccessSpec, composed: Composed | None = None) -> list[AccessRow]:
    """The effective access of the cluster in `composed` (the stack's fragment merged into its
    base policy); without one, of the stack's fragment alone (no base)."""
    from ..deploy import mark_deployer
    from .effective_access import effective_access

    if composed is None:
        from .build import compose_cluster

        composed = compose_cluster(spec, "", None, [], render=False)
    return mark_deployer(spec, effective_access(spec, composed))


def _origin_text(row: AccessRow) -> str:
    return "" if row.origin == (STACK_ORIGIN,) else f" ({', '.join(row.origin)})"


def access_warnings(spec: ClusterAccessSpec, rows: list[AccessRow]) -> list[str]:
    """Things a security reviewer should look at twice, even when they are allowed."""
    warnings: list[str] = []
    where = f"{spec.cluster}: " if spec.cluster else ""
    if not any(row.kind == GRANT for row in rows):
        warnings.append(
            f"{where}access grants nothing: no tailnet source reaches this cluster, so the "
            "operator and its proxy serve nobody (add rules under access)."
        )
    for row in rows:
        if row.undecided:
            warnings.append(
                f"{where}the access of {row.src} is not decided offline "
                f"({'; '.join(row.undecided)}); the access matrix counts what may apply.")
        if row.kind not in (GRANT, BREAK_GLASS):
            continue
        origin = _origin_text(row)
        if not row.cluster_roles:
            warnings.append(
                f"{where}{row.src} gets Kubernetes groups {', '.join(row.kubernetes_groups)}"
                f"{origin}, which no ClusterRole of this stack is bound to: it can do nothing "
                "in the cluster unless a binding outside this stack exists (add a roleBinding)."
            )
        if row.is_admin and row.broad:
            warnings.append(
                f"{where}{row.src} is a broad source with cluster-admin (allowBroadAdmin is set)."
                if not origin else
                f"{where}{row.src} is a broad source with cluster-admin{origin}."
            )
        if row.kind == BREAK_GLASS:
            # Unrecorded on purpose (the summary shows it as the way in); a posture keeps it
            # to the devices that meet it.
            if not row.posture:
                warnings.append(
                    f"{where}break-glass {row.src} has no posture: any device of theirs gets "
                    "in unrecorded (set breakGlass.posture, e.g. posture:latest).")
            continue
        if row.is_admin and not row.recorded:
            warnings.append(
                f"{where}{row.src} has cluster-admin{origin} and its sessions are not recorded."
            )
        elif row.is_admin and not row.enforced:
            warnings.append(
                f"{where}{row.src} has cluster-admin{origin}; recording is not enforced "
                "(sessions proceed when the recorder is down)."
            )
    if spec.proxy.mode == "noauth":
        warnings.append(
            f"{where}the API server proxy runs in noauth mode: grants do not limit "
            "what callers can do (proxy.acknowledgeNoauth is set)."
        )
    return warnings
