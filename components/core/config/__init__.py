"""Reading and checking configuration: a typed reader that collects problems, and the checks
grouped by what they check. Stack config and component args are each read once, here.

    reader.py       ConfigReader: one object of config, problems under dotted key paths
    read.py         read_cluster / parse_spec: the whole cluster, then the cross checks
    identities.py   access rules, role bindings, groups, postures; who may get what
    cluster.py      tags, tag scheme, operator, proxy, hostnames
    recording.py    session recording
    policy.py       how the policy is written; what the base policy may not contain
    credentials.py  the OAuth client, and the secret values handed on
    fleet.py        the tailnet (fleet) stack's config
    args.py         sub-components' own args
    names.py        key spellings and the engine's namespaced config
"""

from ..identifiers import (
    ANY_DOMAIN,
    CLUSTER_ROLE,
    DNS_LABEL,
    DOMAIN_WILDCARD,
    GROUP,
    KUBERNETES_GROUP,
    POSTURE,
    TAG,
    USER,
    chart_version_tuple,
)
from .args import ArgChecker
from .credentials import (
    SECRET_FIELDS,
    SECRET_VALUE_PATHS,
    SecretInputs,
    is_secret_placeholder,
    looks_like_output,
)
from .identities import (
    BROAD_SOURCES,
    KNOWN_AUTOGROUPS,
    check_role_bindings,
    is_broad_source,
    is_scim_group,
)
from .names import STRING_KEYS, namespace_config, snake_key_path
from .read import cross_checks, parse_spec, read_cluster
from .reader import ConfigReader, Spelling, describe

# 0.1.0 names of the patterns (now whole-value, ASCII-only matchers).
TAG_RE, GROUP_RE, USER_RE, POSTURE_RE = TAG, GROUP, USER, POSTURE
DOMAIN_WILDCARD_RE = DOMAIN_WILDCARD
CLUSTER_ROLE_RE, KUBERNETES_GROUP_RE, ANY_DOMAIN_RE = CLUSTER_ROLE, KUBERNETES_GROUP, ANY_DOMAIN

__all__ = [
    "ANY_DOMAIN_RE", "BROAD_SOURCES", "CLUSTER_ROLE_RE", "DNS_LABEL", "DOMAIN_WILDCARD_RE",
    "GROUP_RE", "KNOWN_AUTOGROUPS", "KUBERNETES_GROUP_RE", "POSTURE_RE", "SECRET_FIELDS",
    "SECRET_VALUE_PATHS", "STRING_KEYS", "TAG_RE", "USER_RE", "ArgChecker", "ConfigReader",
    "SecretInputs", "Spelling", "check_role_bindings", "chart_version_tuple", "cross_checks",
    "describe", "is_broad_source", "is_scim_group", "is_secret_placeholder",
    "looks_like_output", "namespace_config", "parse_spec", "read_cluster", "snake_key_path",
]
