"""Reading and checking configuration: one generic reader over the declared spec
(core.spec), and the checks the declarations cannot say, grouped by what they check. Stack
config and component args are each read once, here.

    reader.py       SpecReader: any spec class from stack config or component args
    rules.py        the named checks of declarations, and the checks of whole objects
    read.py         read_cluster / parse_spec: the whole cluster, then the cross checks
    identities.py   access rules, role bindings, groups, postures; who may get what
    cluster.py      tags, operator, proxy, hostnames
    recording.py    session recording
    policy.py       how the policy is written; what the base policy may not contain
    credentials.py  the OAuth client or workload identity, and the secret values handed on
    fleet.py        the tailnet (fleet) stack's config
    schema.py       the JSON Schema, the config reference table and the args TypedDicts'
                    shape, generated from the spec
    names.py        the engine's namespaced config and key spellings
"""

from ..identifiers import chart_version_tuple
from .credentials import (
    SECRET_FIELDS,
    SECRET_VALUE_PATHS,
    SecretInputs,
    is_secret_placeholder,
    looks_like_output,
)
from .identities import BROAD_SOURCES, KNOWN_AUTOGROUPS, is_broad_source, is_scim_group
from .names import STRING_KEYS, namespace_config, snake_key_path
from .read import cross_checks, parse_spec, read_cluster
from .reader import Source, SpecReader, describe, read_spec

__all__ = [
    "BROAD_SOURCES", "KNOWN_AUTOGROUPS", "SECRET_FIELDS", "SECRET_VALUE_PATHS", "STRING_KEYS",
    "SecretInputs", "Source", "SpecReader", "chart_version_tuple", "cross_checks", "describe",
    "is_broad_source", "is_scim_group", "is_secret_placeholder", "looks_like_output",
    "namespace_config", "parse_spec", "read_cluster", "read_spec", "snake_key_path",
]
