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

from ..identifiers import DNS_LABEL, chart_version_tuple
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

__all__ = [
    "BROAD_SOURCES", "DNS_LABEL", "KNOWN_AUTOGROUPS", "SECRET_FIELDS", "SECRET_VALUE_PATHS",
    "STRING_KEYS", "ArgChecker", "ConfigReader",
    "SecretInputs", "Spelling", "check_role_bindings", "chart_version_tuple", "cross_checks",
    "describe", "is_broad_source", "is_scim_group", "is_secret_placeholder",
    "looks_like_output", "namespace_config", "parse_spec", "read_cluster", "snake_key_path",
]
