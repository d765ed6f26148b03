"""Read one cluster's configuration (stack config or component args) into the spec, once.

Every section is read by the module that checks it; the checks that relate sections to each
other and to the base policy run after, and every problem is reported together.
"""

from collections.abc import Mapping
from typing import Any

from ..identifiers import ANY_DOMAIN, DNS_LABEL, GROUP, POSTURE
from ..problems import InvalidConfig, Problem
from ..spec import ClusterAccessSpec, fleet_tags
from .cluster import (
    check_hostnames,
    check_tag_owners,
    read_operator,
    read_proxy,
    read_tag_scheme,
    read_tags,
)
from .credentials import SecretInputs, check_workload_identity, read_oauth, secret_inputs
from .identities import (
    DEFAULT_ACCESS,
    DEFAULT_ROLE_BINDINGS,
    check_access_rules,
    check_definitions,
    check_member,
    read_access,
    read_named_lists,
    read_role_bindings,
)
from .policy import check_base_policy, read_policy
from .reader import ConfigReader, Spelling
from .recording import check_recording, read_session_recording

_DEFAULTS = {"access": DEFAULT_ACCESS, "roleBindings": DEFAULT_ROLE_BINDINGS}


def read_cluster(raw: Mapping[str, Any], *, base_policy: Mapping[str, Any] | None = None,
                 spelling: Spelling = "config", prefix: str = "",
                 subject: str = "configuration") -> tuple[ClusterAccessSpec, SecretInputs]:
    """The validated spec and the secret values; raise `InvalidConfig` listing every problem.

    `base_policy` is the parsed base policy file, if any: groups, postures and tags it
    defines count as defined.
    """
    problems: list[Problem] = []
    spec = _read_sections(ConfigReader(raw, "", problems, spelling))
    problems += cross_checks(spec, base_policy or {})
    if problems:
        raise InvalidConfig(problems, prefix=prefix, subject=subject)
    return spec, secret_inputs(raw, spelling)


def _read_sections(root: ConfigReader) -> ClusterAccessSpec:
    cluster = root.string("cluster", "", DNS_LABEL,
                          "name the cluster with a DNS label: lower-case letters, digits and "
                          "dashes, at most 63 characters.")
    if not root.has("cluster"):
        root.problem("cluster", "is required.",
                     "pulumi config set cluster <name>, e.g. gpu-training.")
    tag_scheme = read_tag_scheme(root)
    per_cluster = tag_scheme == "per-cluster" and DNS_LABEL.match(cluster)
    tags = read_tags(root.obj("tags"), fleet_tags(cluster) if per_cluster else None)
    operator = read_operator(root.obj("operator"))
    proxy = read_proxy(root.obj("proxy"))
    with_defaults = dict(root.data)
    for name, default in _DEFAULTS.items():
        if root.has(name):
            continue
        if root.spelling == "args" and name == "access":
            # A library caller gets no guessed admin: the guide's rules are for stack files.
            root.problem("access", "is required.",
                         'say who gets which Kubernetes groups, e.g. [{"src": '
                         '["group:ml-engineers"], "kubernetes_groups": ["system:masters"]}].')
            continue
        with_defaults[name] = default
    defaulted = root.child(with_defaults, "")
    access = read_access(defaulted)
    bindings = read_role_bindings(defaulted)
    groups = read_named_lists(root, "groups", GROUP, 'groups are named like "group:ml-readers".',
                              check_member)
    postures = read_named_lists(root, "postures", POSTURE,
                                'postures are named like "posture:latest".', None)
    recording = read_session_recording(root.obj("sessionRecording"))
    policy = read_policy(root.obj("policy"))
    oauth = read_oauth(root.obj("oauth"))
    allow_broad_admin = root.boolean("allowBroadAdmin", False)
    tailnet_domain = root.string("tailnetDomain", "", ANY_DOMAIN,
                                 'the tailnet DNS name, e.g. "tailxyz.ts.net".')
    root.finish()
    return ClusterAccessSpec(
        cluster=cluster, tags=tags, operator=operator, proxy=proxy, access=access,
        role_bindings=bindings, groups=groups, postures=postures, session_recording=recording,
        policy=policy, oauth=oauth, allow_broad_admin=allow_broad_admin,
        tailnet_domain=tailnet_domain, tag_scheme=tag_scheme)


def cross_checks(spec: ClusterAccessSpec, base: Mapping[str, Any]) -> list[Problem]:
    """Rules that relate several settings (and the base policy) to each other."""
    return [*check_base_policy(spec, base), *check_access_rules(spec, base),
            *check_hostnames(spec), *check_recording(spec), *check_definitions(spec, base),
            *check_tag_owners(spec, base), *check_workload_identity(spec)]


def parse_spec(raw: Mapping[str, Any], *, base_policy: Mapping[str, Any] | None = None,
               prefix: str = "", subject: str = "configuration") -> ClusterAccessSpec:
    """Validate raw stack configuration (camelCase keys); raise `InvalidConfig` listing every
    problem."""
    spec, _ = read_cluster(raw, base_policy=base_policy, prefix=prefix, subject=subject)
    return spec
