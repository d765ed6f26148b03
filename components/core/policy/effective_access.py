"""Effective access: the rows of the access matrix, derived from the merged policy.

How the operator's API server proxy impersonates a caller (tailscale/tailscale v1.102.3,
`k8s-operator/api-proxy/proxy.go`, `addImpersonationHeaders`): every caller that reaches the
proxy's port is impersonated, with or without a kubernetes grant, a user as its login name and
a tagged device as its node name; the groups are the `impersonate.groups` of the
`tailscale.com/cap/kubernetes` capability, unioned over every matching grant (else of the old
name `https://tailscale.com/cap/kubernetes`, which Tailscale's API now refuses in a written
policy; the evaluator refuses it offline, naming the entry, so no plan reaches here with it);
a tagged device with no groups from either gets its tags as groups. The API server adds
`system:authenticated` to every impersonated user (k8s.io/apiserver
`pkg/endpoints/filters/impersonation.go`). Capability values of several grants are unioned:
any `enforceRecorder` fails closed, any `enableEvents` turns events on, recorder tags are
concatenated.

The chart's RBAC (tailscale-operator chart v1.102.3, `templates/apiserverproxy-rbac.yaml`):
ClusterRole `tailscale-auth-proxy` lets the `operator` and `kube-apiserver-auth-proxy`
ServiceAccounts impersonate every user and group, `system:masters` included: whoever controls
those pods holds cluster-admin.

Which grants apply and which sources reach the port is the evaluator's answer
(`capabilities`, `reachable`, `who_reaches`); postures are set aside for the question "may this
grant apply" and kept on the row, as the stack's own rows always did.
"""

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from ..chart import KUBERNETES_CAPABILITY
from ..kubernetes_rights import sensitive_rights
from ..spec import ClusterAccessSpec
from .access import (
    AS_ITSELF,
    BREAK_GLASS,
    GRANT,
    NO_NETWORK_PATH,
    OPERATOR,
    STACK_ORIGIN,
    TAGS_AS_GROUPS,
    AccessRow,
)
from .compose import Composed
from .evaluate import (
    AppGrant,
    NetRule,
    PolicyModel,
    capabilities,
    reachable,
    who_reaches,
)
from .verify import BASE

AUTHENTICATED: Final = "system:authenticated"
AUTH_PROXY_ROLE: Final = "tailscale-auth-proxy"
AUTH_PROXY_CHART: Final = "1.102.3"
"""The chart release whose `templates/apiserverproxy-rbac.yaml` the operator row states."""
AUTH_PROXY_ACCOUNTS: Final = ("operator", "kube-apiserver-auth-proxy")
_EVERY_RIGHT: Final = ("cluster-admin",)


def _union(first: tuple[str, ...], items: Iterable[str]) -> tuple[str, ...]:
    return first + tuple(dict.fromkeys(item for item in items if item not in first))


def _on_every_path(flags: list[tuple[bool, tuple[str, ...]]]) -> bool:
    """Whether some applicable grant sets the flag whatever the device's posture.

    `flags` is (flag, posture) per grant of one source."""
    if flags and all(flag for flag, _ in flags):
        return True
    return any(flag and not posture for flag, posture in flags)


class OriginLabels:
    """Origin labels: the stack's own entries are `stack` (no index: it moves whenever the
    base changes); others `base grants[0]`, `<fragment> acls[2]`."""

    def __init__(self, stack_fragment: str) -> None:
        self.stack = stack_fragment

    def of(self, origin: str, section: str, index: int) -> str:
        if origin == self.stack:
            return STACK_ORIGIN
        return f"{BASE if origin == BASE else origin} {section}[{index}]"

    def grants(self, grants: Iterable[AppGrant]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.of(g.origin, "grants", g.index) for g in grants))

    def rules(self, rules: Iterable[NetRule]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.of(r.origin, r.section, r.index) for r in rules))


def _kubernetes_values(grant: AppGrant) -> list[Mapping[str, Any]]:
    return [value for value in grant.app.get(KUBERNETES_CAPABILITY, ())
            if isinstance(value, Mapping)]


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list | tuple) else []


def without_postures(model: PolicyModel) -> PolicyModel:
    """The model with every grant's posture set aside: which grants MAY apply to a source."""
    if not any(grant.src_posture for grant in model.app_grants):
        return model  # the same grants: keep the model and the index it has built
    grants = tuple(dataclasses.replace(grant, src_posture=()) if grant.src_posture else grant
                   for grant in model.app_grants)
    return dataclasses.replace(model, app_grants=grants)


class _Deriver:
    def __init__(self, spec: ClusterAccessSpec, composed: Composed) -> None:
        assert composed.model is not None
        self.spec = spec
        self.model = composed.model
        self.any_posture = without_postures(self.model)
        self.tag = spec.endpoint_tag
        self.labels = OriginLabels(spec.cluster or "stack")
        self.postures = {(g.index, g.origin): g.src_posture for g in self.model.app_grants}
        self.rows: dict[str, AccessRow] = {}
        self.break_glass = frozenset(spec.break_glass.src if spec.break_glass else ())

    def cluster_roles(self, groups: Iterable[str]) -> tuple[str, ...]:
        """The roles bound to the groups, and to `system:authenticated`, which the API server
        adds to every impersonated user."""
        roles: tuple[str, ...] = ()
        for group in (*groups, AUTHENTICATED):
            roles = _union(roles, self.spec.cluster_roles_for(group))
        return roles

    def kubernetes_grants(self, src: str) -> list[AppGrant]:
        """The grants with the kubernetes capability that apply to `src` on the endpoint
        (postures aside)."""
        return self.query(src)[0]

    def query(self, src: str) -> tuple[list[AppGrant], tuple[str, ...]]:
        """`kubernetes_grants`, and why other grants may or may not apply."""
        # The evaluator's grant index: a query looks only at the grants that can match it.
        found = capabilities(self.any_posture, src, self.tag)
        return [grant for grant in found.grants if _kubernetes_values(grant)], found.reasons

    def path(self, src: str) -> tuple[tuple[int, ...], tuple[NetRule, ...], tuple[str, ...]]:
        """The endpoint's ports `src` may reach (a posture may be needed), the rules, and why
        a port is undecided."""
        ports: list[int] = []
        rules: list[NetRule] = []
        undecided: list[str] = []
        for port in self.spec.endpoint_ports:
            decision = reachable(self.model, src, self.tag, port)
            # Undecidable counts as a path: rights are shown rather than hidden.
            opening = decision.rules or decision.posture_blocked
            if opening or decision.verdict == "undecidable":
                ports.append(port)
                rules += opening
            if not opening and decision.verdict == "undecidable":
                undecided += [f"port {port}: {reason}" for reason in decision.reasons]
        return tuple(ports), tuple(rules), tuple(dict.fromkeys(undecided))

    def grant_row(self, src: str, grants: Sequence[AppGrant], unsure: tuple[str, ...] = ()
                  ) -> AccessRow:
        groups: tuple[str, ...] = ()
        recorded, enforced, events = [], [], []
        posture: tuple[str, ...] = ()
        every_grant_has_posture = True
        for grant in grants:
            grant_posture = self.postures.get((grant.index, grant.origin), ())
            values = _kubernetes_values(grant)
            impersonate = [v.get("impersonate") for v in values]
            groups = _union(groups, (group for item in impersonate if isinstance(item, Mapping)
                                     for group in _strings(item.get("groups"))))
            recorded.append((any(_strings(v.get("recorder")) for v in values), grant_posture))
            enforced.append((any(v.get("enforceRecorder") is True for v in values),
                             grant_posture))
            events.append((any(v.get("enableEvents") is True for v in values), grant_posture))
            if grant_posture:
                posture = _union(posture, grant_posture)
            else:
                every_grant_has_posture = False
        if not groups and src.startswith("tag:"):
            # No groups from any grant: the proxy gives a tagged device its tags.
            groups = (src,)
        ports, _, undecided = self.path(src)
        return AccessRow(
            src=src, endpoint=self.spec.endpoint_hostname,
            ports=ports,
            kubernetes_groups=groups, cluster_roles=self.cluster_roles(groups),
            recorded=_on_every_path(recorded), enforced=_on_every_path(enforced),
            posture=posture if every_grant_has_posture else (),
            events=_on_every_path(events),
            fails_closed=any(flag for flag, _ in enforced),
            kind=(BREAK_GLASS if src in self.break_glass else GRANT) if ports
            else NO_NETWORK_PATH,
            origin=self.labels.grants(grants),
            rights=None if ports else (), undecided=unsure + undecided,
        )

    def network_row(self, src: str, ports: tuple[int, ...], rules: Sequence[NetRule],
                    undecided: tuple[str, ...] = ()) -> AccessRow:
        """A source that reaches the port without a kubernetes grant."""
        tagged = src.startswith("tag:")
        groups = (src, AUTHENTICATED) if tagged else (AUTHENTICATED,)
        return AccessRow(
            src=src, endpoint=self.spec.endpoint_hostname, ports=ports,
            kubernetes_groups=groups, cluster_roles=self.cluster_roles(groups),
            recorded=False, enforced=False, posture=(),
            kind=TAGS_AS_GROUPS if tagged else AS_ITSELF, origin=self.labels.rules(rules),
            undecided=undecided,
        )

    def add(self, row: AccessRow) -> None:
        self.rows.setdefault(row.src, row)

    def derive(self) -> list[AccessRow]:
        # Every source a kubernetes grant names, in the merged policy's order. A grant that
        # names the source but may not apply (a `via`, an address range) counts, with a note.
        naming: dict[str, list[AppGrant]] = {}
        for grant in self.model.app_grants:
            if _kubernetes_values(grant):
                for src in grant.src:
                    naming.setdefault(src, []).append(grant)
        for src, named in naming.items():
            applying, reasons = self.query(src)
            counted_already = {grant.index for grant in applying}
            maybe = [grant for grant in named if grant.index not in counted_already
                     and any(reason.startswith(f"{grant.label}: ") for reason in reasons)]
            if applying or maybe:
                notes = tuple(reason for reason in reasons
                              if any(reason.startswith(f"{g.label}: ") for g in maybe))
                counted = sorted([*applying, *maybe], key=lambda grant: grant.index)
                self.add(self.grant_row(src, counted, notes))
        # Every source with a network path: through a broader grant, or impersonated as itself.
        reaching: dict[str, tuple[list[int], list[NetRule], list[str]]] = {}
        for port in self.spec.endpoint_ports:
            for reach in who_reaches(self.model, self.tag, port):
                ports, rules, unsure = reaching.setdefault(reach.selector, ([], [], []))
                if port not in ports:
                    ports.append(port)
                rules.append(reach.rule)
                if not reach.certain:
                    unsure.append(f"{reach.rule.label} may cover the endpoint through "
                                  f"{reach.via} (an address range or a via route)")
        for src, (ports, rules, unsure) in reaching.items():
            if src in self.rows:
                continue
            applying = self.kubernetes_grants(src)
            self.add(self.grant_row(src, applying) if applying
                     else self.network_row(src, tuple(ports), rules,
                                           tuple(dict.fromkeys(unsure))))
        # A binding to a `tag:` group: devices with that tag and no grant get its rights.
        for binding in self.spec.all_role_bindings:
            tag = binding.group
            if not tag.startswith("tag:") or tag in self.rows:
                continue
            tag_ports, opening, undecided = self.path(tag)
            if tag_ports and not self.kubernetes_grants(tag):
                self.add(self.network_row(tag, tag_ports, opening, undecided))
        operator = self.operator_row()
        if operator is not None:
            self.add(operator)
        return list(self.rows.values())

    def operator_row(self) -> AccessRow | None:
        """The chart renders `tailscale-auth-proxy` when the in-process proxy runs in auth
        mode or ProxyGroups may impersonate (`apiServerProxyConfig`)."""
        if self.spec.chart_proxy_mode != "true" and not self.spec.allow_impersonation:
            return None
        namespace = self.spec.operator.namespace
        return AccessRow(
            src=", ".join(f"{namespace}/{account}" for account in AUTH_PROXY_ACCOUNTS),
            endpoint=self.spec.endpoint_hostname, ports=(), kubernetes_groups=(),
            cluster_roles=(AUTH_PROXY_ROLE,), recorded=False, enforced=False, posture=(),
            kind=OPERATOR, origin=(f"chart {AUTH_PROXY_CHART} ClusterRole {AUTH_PROXY_ROLE}",),
            rights=tuple(sensitive_rights(_EVERY_RIGHT)),
        )


def effective_access(spec: ClusterAccessSpec, composed: Composed) -> list[AccessRow]:
    """Every row of the access matrix (see `access` for the kinds), from the merged policy in
    `composed` and the stack's role bindings (plus the built-in `system:masters`)."""
    return _Deriver(spec, composed).derive()
