"""Effective sensitive Kubernetes rights of a set of ClusterRoles.

Pure data and set arithmetic (stdlib only, no Pulumi): given the ClusterRoles a tailnet grant
ends up bound to, say which of a fixed vocabulary of *sensitive* rights (reading secrets,
exec into pods, binding roles, ...) those roles carry, so a plan or report can show what a
grant really hands out.

Built-in roles
--------------
The rules of the built-in ClusterRoles ``cluster-admin``, ``admin``, ``edit`` and ``view`` are
transcribed from Kubernetes' bootstrap policy, file
``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata/cluster-roles.yaml`` of
``kubernetes/kubernetes`` at commit ``025f2834a128798cef30018a5e6a6ae82b5ad885`` (the golden
file that ``policy.go``'s ``ClusterRoles()`` is tested against). The release tag of that
commit was not available where it was read; the file is from the aggregated-role era
(``admin``/``edit``/``view`` have ``rules: null`` and an ``aggregationRule``) and already lists
``authentication.k8s.io/selfsubjectreviews`` in ``system:basic-user`` and ``/metrics/slis`` in
``system:monitoring``, i.e. a recent (1.26 or later) tree. Re-check against the cluster's
release when it matters.

``admin``, ``edit`` and ``view`` are aggregated roles. Their effective rules are what the
aggregation controller fills in, and that is what is stored here:

* ``view`` = the rules of ``system:aggregate-to-view``;
* ``edit`` = ``system:aggregate-to-edit`` + ``view`` (``view`` carries the
  ``aggregate-to-edit`` label);
* ``admin`` = ``system:aggregate-to-admin`` + ``edit`` (``edit`` carries the
  ``aggregate-to-admin`` label, and so brings ``view``'s rules along).

Facts worth knowing that fall out of the transcription: ``edit`` reads secrets (get/list/watch)
and writes them, has ``get`` *and* ``create`` on ``pods/exec`` and ``pods/attach``, creates pods
and every workload kind, ``impersonate`` on ``serviceaccounts`` and ``create`` on
``serviceaccounts/token``; ``view`` has none of secrets, ``pods/exec`` or ``pods/attach``
(only ``get`` on ``pods`` and ``pods/log``); ``admin`` adds full access to ``roles`` and
``rolebindings`` (but neither ``bind``/``escalate`` nor ``clusterroles``/``clusterrolebindings``)
and ``localsubjectaccessreviews``; none of the three deletes namespaces or proxies to nodes.
Roles bound with a RoleBinding are namespace-scoped; this module does not model scope, a right
is a right wherever it applies.

Matching
--------
Rules are PolicyRule-like mappings (``apiGroups``, ``resources``, ``verbs``, optional
``resourceNames`` and ``nonResourceURLs``) matched the way the RBAC authorizer matches them:
``*`` in ``verbs``, ``apiGroups`` or ``resources`` matches anything; a resource ``*`` also
matches subresources; ``*/<sub>`` matches that subresource of any resource; ``pods`` does *not*
match ``pods/exec``. Rules that only carry ``nonResourceURLs`` grant no resource rights.

``resourceNames`` (decision): a rule restricted to named objects is still counted, so every
result is an upper bound (one named secret readable still means "secrets:read", and a
restriction to a name that is created later is no protection). :func:`restricted_rights`
lists the rights that come *only* from such restricted rules, so a report can say so.

``cluster-admin`` (decision): a rule with ``*`` verbs on ``*`` resources in ``*`` apiGroups is
``cluster-admin``; such a rule matches every other entry of the vocabulary too, so a
``cluster-admin`` role lists ``cluster-admin`` *and* every other right. That is deliberate: a
reader filtering for, say, ``secrets:read`` must find cluster-admin among the holders.
"""

import functools
from collections.abc import Iterable, Mapping, Sequence

PolicyRule = Mapping[str, Sequence[str]]
"""A PolicyRule as a mapping: apiGroups, resources, verbs, resourceNames?, nonResourceURLs?"""

CORE = ""
APPS = "apps"
BATCH = "batch"
EXTENSIONS = "extensions"
RBAC = "rbac.authorization.k8s.io"
AUTHENTICATION = "authentication.k8s.io"

RIGHT_DESCRIPTIONS: dict[str, str] = {
    "cluster-admin": "* verbs on * resources in * apiGroups: every right below, and more",
    "impersonate": "impersonate users/groups/serviceaccounts: act as another identity",
    "namespaces:delete": "delete namespaces: destroy everything in them at once",
    "nodes:proxy": "any verb on nodes/proxy: the kubelet API, exec into any pod on the node",
    "pods:attach": "get/create pods/attach: attach to a running container's stdio",
    "pods:create": "create pods: run any image with any mounted secret or service account",
    "pods:exec": "get/create pods/exec: run commands inside running containers",
    "rbac:bind-escalate": (
        "bind/escalate roles, or write (cluster)rolebindings: grant rights to anyone"
    ),
    "secrets:read": "get/list/watch secrets: read every credential in scope",
    "serviceaccounts:token": "create serviceaccounts/token: mint a token for a service account",
    "workloads:write": (
        "create/update/patch pods or workload controllers: run code under their identity"
    ),
}
"""One line per right of the vocabulary."""

VOCABULARY: tuple[str, ...] = tuple(sorted(RIGHT_DESCRIPTIONS))
"""Every sensitive right this module can report, sorted."""

SYSTEM_MASTERS = "system:masters"
"""The group Kubernetes binds to ``cluster-admin`` (and that bypasses RBAC altogether)."""

UNKNOWN_PREFIX = "unknown:"
"""Prefix of the marker :func:`sensitive_rights` reports for a role it has no rules for."""

# Verb and resource sets of each right (besides cluster-admin). A right holds when one rule
# matches at least one (apiGroup, resource, verb) of it.
_Target = tuple[frozenset[str], frozenset[str], frozenset[str]]  # (groups, resources, verbs)


def _target(groups: Iterable[str], resources: Iterable[str], verbs: Iterable[str]) -> _Target:
    return frozenset(groups), frozenset(resources), frozenset(verbs)


_WRITE_WORKLOAD = ("create", "update", "patch")

IMPERSONATION_TARGETS: tuple[tuple[str, str], ...] = (
    (CORE, "groups"),
    (CORE, "serviceaccounts"),
    (CORE, "users"),
    (AUTHENTICATION, "uids"),
    (AUTHENTICATION, "userextras/*"),
)
"""(apiGroup, resource) pairs the impersonate verb applies to; ``userextras/*`` is any key."""

_RIGHT_TARGETS: dict[str, tuple[_Target, ...]] = {
    "secrets:read": (_target([CORE], ["secrets"], ["get", "list", "watch"]),),
    "pods:exec": (_target([CORE], ["pods/exec"], ["create", "get"]),),
    "pods:attach": (_target([CORE], ["pods/attach"], ["create", "get"]),),
    "pods:create": (_target([CORE], ["pods"], ["create"]),),
    "workloads:write": (
        _target([CORE], ["pods", "replicationcontrollers"], _WRITE_WORKLOAD),
        _target(
            [APPS, EXTENSIONS],
            ["daemonsets", "deployments", "replicasets", "statefulsets"],
            _WRITE_WORKLOAD,
        ),
        _target([BATCH], ["cronjobs", "jobs"], _WRITE_WORKLOAD),
    ),
    "rbac:bind-escalate": (
        _target([RBAC], ["clusterroles", "roles"], ["bind", "escalate"]),
        _target([RBAC], ["clusterrolebindings", "rolebindings"], ["create", "patch", "update"]),
    ),
    "impersonate": tuple(
        _target([group], [resource], ["impersonate"]) for group, resource in IMPERSONATION_TARGETS
    ),
    "nodes:proxy": (_target([CORE], ["nodes/proxy"], ["*"]),),
    "namespaces:delete": (_target([CORE], ["namespaces"], ["delete", "deletecollection"]),),
    "serviceaccounts:token": (_target([CORE], ["serviceaccounts/token"], ["create"]),),
}

# --- Bootstrap policy, compact: (apiGroups, resources, verbs), space-separated lists -----------
_READ = "get list watch"
_WRITE = "create delete deletecollection patch update"
_READ_WRITE = "create delete deletecollection get list patch update watch"

_AGGREGATE_TO_VIEW: tuple[tuple[str, str, str], ...] = (
    (
        CORE,
        "configmaps endpoints persistentvolumeclaims persistentvolumeclaims/status pods"
        " replicationcontrollers replicationcontrollers/scale serviceaccounts services"
        " services/status",
        _READ,
    ),
    (
        CORE,
        "bindings events limitranges namespaces/status pods/log pods/status"
        " replicationcontrollers/status resourcequotas resourcequotas/status",
        _READ,
    ),
    (CORE, "namespaces", _READ),
    ("discovery.k8s.io", "endpointslices", _READ),
    (
        APPS,
        "controllerrevisions daemonsets daemonsets/status deployments deployments/scale"
        " deployments/status replicasets replicasets/scale replicasets/status statefulsets"
        " statefulsets/scale statefulsets/status",
        _READ,
    ),
    ("autoscaling", "horizontalpodautoscalers horizontalpodautoscalers/status", _READ),
    (BATCH, "cronjobs cronjobs/status jobs jobs/status", _READ),
    (
        EXTENSIONS,
        "daemonsets daemonsets/status deployments deployments/scale deployments/status ingresses"
        " ingresses/status networkpolicies replicasets replicasets/scale replicasets/status"
        " replicationcontrollers/scale",
        _READ,
    ),
    ("policy", "poddisruptionbudgets poddisruptionbudgets/status", _READ),
    ("networking.k8s.io", "ingresses ingresses/status networkpolicies", _READ),
)

_AGGREGATE_TO_EDIT: tuple[tuple[str, str, str], ...] = (
    (CORE, "pods/attach pods/exec pods/portforward pods/proxy secrets services/proxy", _READ),
    (CORE, "serviceaccounts", "impersonate"),
    (CORE, "pods pods/attach pods/exec pods/portforward pods/proxy", _WRITE),
    (CORE, "pods/eviction", "create"),
    (
        CORE,
        "configmaps events persistentvolumeclaims replicationcontrollers"
        " replicationcontrollers/scale secrets serviceaccounts services services/proxy",
        _WRITE,
    ),
    (CORE, "serviceaccounts/token", "create"),
    (
        APPS,
        "daemonsets deployments deployments/rollback deployments/scale replicasets"
        " replicasets/scale statefulsets statefulsets/scale",
        _WRITE,
    ),
    ("autoscaling", "horizontalpodautoscalers", _WRITE),
    (BATCH, "cronjobs jobs", _WRITE),
    (
        EXTENSIONS,
        "daemonsets deployments deployments/rollback deployments/scale ingresses networkpolicies"
        " replicasets replicasets/scale replicationcontrollers/scale",
        _WRITE,
    ),
    ("policy", "poddisruptionbudgets", _WRITE),
    ("networking.k8s.io", "ingresses networkpolicies", _WRITE),
    ("coordination.k8s.io", "leases", _READ_WRITE),
)

_AGGREGATE_TO_ADMIN: tuple[tuple[str, str, str], ...] = (
    ("authorization.k8s.io", "localsubjectaccessreviews", "create"),
    (RBAC, "rolebindings roles", _READ_WRITE),
)


def _expand(compact: Iterable[tuple[str, str, str]]) -> tuple[dict[str, list[str]], ...]:
    return tuple(
        {"apiGroups": [group], "resources": resources.split(), "verbs": verbs.split()}
        for group, resources, verbs in compact
    )


_VIEW_RULES = _expand(_AGGREGATE_TO_VIEW)
_EDIT_RULES = _expand(_AGGREGATE_TO_EDIT) + _VIEW_RULES
_ADMIN_RULES = _expand(_AGGREGATE_TO_ADMIN) + _EDIT_RULES
_CLUSTER_ADMIN_RULES: tuple[dict[str, list[str]], ...] = (
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
    {"nonResourceURLs": ["*"], "verbs": ["*"]},
)

BUILTIN_ROLES: tuple[str, ...] = ("admin", "cluster-admin", "edit", "view")
"""The built-in ClusterRoles whose (effective, aggregated) rules this module knows."""

_BUILTIN_RULES: dict[str, tuple[dict[str, list[str]], ...]] = {
    "admin": _ADMIN_RULES,
    "cluster-admin": _CLUSTER_ADMIN_RULES,
    "edit": _EDIT_RULES,
    "view": _VIEW_RULES,
}


def builtin_role_rules(role: str) -> list[dict[str, list[str]]]:
    """The effective rules of a built-in ClusterRole (a fresh copy); KeyError if not built in."""
    return [{key: list(values) for key, values in rule.items()} for rule in _BUILTIN_RULES[role]]


# --- Matching -----------------------------------------------------------------------------------
def _field(rule: PolicyRule, key: str) -> tuple[str, ...]:
    values = rule.get(key) or ()
    if isinstance(values, str):
        raise TypeError(f"PolicyRule {key} must be a list of strings, not the string {values!r}")
    return tuple(values)


def _resource_matches(rule_resource: str, resource: str) -> bool:
    """The RBAC authorizer's resource match; a target may be ``<resource>/*`` (any subresource)."""
    if rule_resource == "*":
        return True
    base, _, sub = resource.partition("/")
    if sub == "*":
        rule_base, slash, _ = rule_resource.partition("/")
        return bool(slash) and rule_base in (base, "*")
    if rule_resource == resource:
        return True
    return bool(sub) and rule_resource == f"*/{sub}"


def _matches(rule: PolicyRule, target: _Target) -> bool:
    groups, resources, verbs = target
    rule_verbs = _field(rule, "verbs")
    rule_groups = _field(rule, "apiGroups")
    rule_resources = _field(rule, "resources")
    return (
        (
            ("*" in verbs and bool(rule_verbs))
            or "*" in rule_verbs
            or not verbs.isdisjoint(rule_verbs)
        )
        and ("*" in rule_groups or not groups.isdisjoint(rule_groups))
        and any(_resource_matches(r, t) for r in rule_resources for t in resources)
    )


def _is_cluster_admin(rule: PolicyRule) -> bool:
    return all("*" in _field(rule, key) for key in ("apiGroups", "resources", "verbs"))


# Rules repeat (every binding of ``view`` asks about the same rules): answers are kept by the
# rule's content, which is all they depend on. Bounded, since custom rules come from input.
_RULE_RIGHTS_MEMO: dict[tuple[tuple[str, tuple[str, ...]], ...], frozenset[str]] = {}
_RULE_RIGHTS_MEMO_SIZE = 4096


def _rule_key(rule: PolicyRule) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
    """The rule's content as a hashable key; None when a field is not a list of strings
    (the uncached path then raises the usual error)."""
    key = []
    for name in sorted(rule):
        values = rule[name]
        if isinstance(values, str) or not isinstance(values, list | tuple):
            return None
        if not all(isinstance(value, str) for value in values):
            return None
        key.append((name, tuple(values)))
    return tuple(key)


def _one_rule_rights(rule: PolicyRule) -> frozenset[str]:
    key = _rule_key(rule)
    if key is None:
        return _compute_rule_rights(rule)
    found = _RULE_RIGHTS_MEMO.get(key)
    if found is None:
        found = _compute_rule_rights(rule)
        if len(_RULE_RIGHTS_MEMO) >= _RULE_RIGHTS_MEMO_SIZE:
            _RULE_RIGHTS_MEMO.clear()
        _RULE_RIGHTS_MEMO[key] = found
    return found


def _compute_rule_rights(rule: PolicyRule) -> frozenset[str]:
    rights = {
        right
        for right, targets in _RIGHT_TARGETS.items()
        if any(_matches(rule, target) for target in targets)
    }
    if _is_cluster_admin(rule):
        rights.add("cluster-admin")
    return frozenset(rights)


def rule_rights(rules: Iterable[PolicyRule]) -> frozenset[str]:
    """The sensitive rights the rules grant, resourceNames-restricted rules included."""
    return frozenset().union(*(_one_rule_rights(rule) for rule in rules))


def restricted_rights(rules: Iterable[PolicyRule]) -> frozenset[str]:
    """Rights of :func:`rule_rights` that only rules with ``resourceNames`` grant.

    Those rights are limited to the named objects; they are still reported by
    :func:`rule_rights` (an upper bound), and this says which ones carry that restriction.
    """
    rules = list(rules)
    unrestricted = rule_rights(rule for rule in rules if not _field(rule, "resourceNames"))
    return rule_rights(rules) - unrestricted


def impersonation_targets(rules: Iterable[PolicyRule]) -> frozenset[str]:
    """Which kinds of identity the rules may impersonate: a subset of groups,
    serviceaccounts, users, uids, userextras (``edit`` gives ``{"serviceaccounts"}``)."""
    rules = list(rules)
    return frozenset(
        resource.partition("/")[0]
        for group, resource in IMPERSONATION_TARGETS
        if any(_matches(rule, _target([group], [resource], ["impersonate"])) for rule in rules)
    )


# --- Roles and groups ---------------------------------------------------------------------------
def _names(values: Iterable[str], what: str) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"{what} must be a collection of names, not the string {values!r}")
    names = list(values)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what}: {name!r} is not a non-empty name")
    return names


def role_rights(
    role: str, custom_roles: Mapping[str, Sequence[PolicyRule]] | None = None
) -> frozenset[str] | None:
    """The rights of one ClusterRole, or None if neither built in nor in ``custom_roles``.

    A custom role named like a built-in one adds to the built-in rules rather than replacing
    them: the API server reconciles the bootstrap rules back into its built-in roles on start
    (unless their autoupdate annotation is off), so the union is the safe reading.
    """
    if custom_roles is not None and role in custom_roles:
        return _builtin_role_rights(role) | rule_rights(custom_roles[role])
    if role not in _BUILTIN_RULES:
        return None
    return _builtin_role_rights(role)


@functools.cache
def _builtin_role_rights(role: str) -> frozenset[str]:
    return rule_rights(_BUILTIN_RULES.get(role, ()))


def sensitive_rights(
    cluster_roles: Iterable[str],
    custom_roles: Mapping[str, Sequence[PolicyRule]] | None = None,
) -> list[str]:
    """Sorted union of the sensitive rights of ``cluster_roles``.

    A built-in or custom role contributes its rights; a role neither built in nor in
    ``custom_roles`` contributes ``unknown:<role>`` (its rights cannot be told, so it must
    not read as harmless). ``cluster-admin`` contributes the whole vocabulary.
    """
    rights: set[str] = set()
    for role in _names(cluster_roles, "cluster_roles"):
        found = role_rights(role, custom_roles)
        rights |= {UNKNOWN_PREFIX + role} if found is None else found
    return sorted(rights)


def group_cluster_roles(
    kubernetes_groups: Iterable[str], bindings: Iterable[tuple[str, str]]
) -> list[str]:
    """The ClusterRoles the groups hold: those bound to them, and ``cluster-admin`` for
    ``system:masters`` (the bootstrap ``cluster-admin`` binding; the group bypasses RBAC)."""
    groups = set(_names(kubernetes_groups, "kubernetes_groups"))
    roles = {role for group, role in bindings if group in groups}
    if SYSTEM_MASTERS in groups:
        roles.add("cluster-admin")
    return sorted(roles)


def group_rights(
    kubernetes_groups: Iterable[str],
    bindings: Iterable[tuple[str, str]],
    custom_roles: Mapping[str, Sequence[PolicyRule]] | None = None,
) -> list[str]:
    """Sorted sensitive rights of an identity in ``kubernetes_groups``.

    ``bindings`` are (group, ClusterRole) pairs, e.g. the stack's role bindings. Only the
    bindings given count: implicit ones other than ``system:masters`` (``system:authenticated``
    to ``system:basic-user``, ...) carry none of the vocabulary and are left out.
    """
    return sensitive_rights(group_cluster_roles(kubernetes_groups, bindings), custom_roles)
