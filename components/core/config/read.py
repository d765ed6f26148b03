"""Read one cluster's configuration (stack config or component args) into the spec, once.

The generic reader checks every setting against its declaration (core.spec); the checks that
relate settings to each other and to the base policy run after, and every problem is reported
together.
"""

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..identifiers import DNS_LABEL
from ..problems import InvalidConfig, Problem
from ..spec import ClusterAccessSpec, fleet_tags
from .cluster import check_hostnames, check_tag_owners, check_tags
from .credentials import SECRET_VALUE_PATHS, SecretInputs, check_workload_identity
from .identities import check_access_rules, check_definitions, check_deployer
from .policy import check_base_policy
from .reader import Source, SpecReader, join
from .recording import check_recording

ACCESS_FOR_ARGS = ('say who gets which Kubernetes groups, e.g. [{"src": ["group:ml-engineers"], '
                   '"kubernetes_groups": ["system:masters"]}].')


def read_cluster(raw: Mapping[str, Any], *, base_policy: Mapping[str, Any] | None = None,
                 source: Source = "config", prefix: str = "",
                 subject: str = "configuration") -> tuple[ClusterAccessSpec, SecretInputs]:
    """The validated spec and the secret values; raise `InvalidConfig` listing every problem.

    `base_policy` is the parsed base policy file, if any: groups, postures and tags it
    defines count as defined.
    """
    reader = SpecReader(source)
    if source == "args" and isinstance(raw, Mapping) and raw.get("access") is None:
        # A library caller gets no guessed admin: the guide's rules are for stack files.
        reader.problem("access", "is required.", ACCESS_FOR_ARGS)
    spec = with_scheme_tags(reader, reader.read(ClusterAccessSpec, raw))
    problems = reader.problems + cross_checks(spec, base_policy or {})
    if problems:
        raise InvalidConfig(problems, prefix=prefix, subject=subject)
    secrets = {path: value for path, value in reader.kept.items() if path in SECRET_VALUE_PATHS}
    return spec, SecretInputs(secrets)


def with_scheme_tags(reader: SpecReader, spec: ClusterAccessSpec) -> ClusterAccessSpec:
    """With `tagScheme: per-cluster`, the tags not given carry the cluster name."""
    if spec.tag_scheme != "per-cluster" or not DNS_LABEL.match(spec.cluster):
        return spec
    given = reader.given.get(join("", "tags"), frozenset())
    defaults = fleet_tags(spec.cluster)
    tags = replace(defaults, **{name: getattr(spec.tags, name) for name in given})
    return replace(spec, tags=tags)


def cross_checks(spec: ClusterAccessSpec, base: Mapping[str, Any]) -> list[Problem]:
    """Rules that relate several settings (and the base policy) to each other."""
    return [*check_tags(spec), *check_base_policy(spec, base), *check_access_rules(spec, base),
            *check_hostnames(spec), *check_recording(spec), *check_definitions(spec, base),
            *check_tag_owners(spec, base), *check_workload_identity(spec),
            *check_deployer(spec)]


def parse_spec(raw: Mapping[str, Any], *, base_policy: Mapping[str, Any] | None = None,
               prefix: str = "", subject: str = "configuration") -> ClusterAccessSpec:
    """Validate raw stack configuration (camelCase keys); raise `InvalidConfig` listing every
    problem."""
    spec, _ = read_cluster(raw, base_policy=base_policy, prefix=prefix, subject=subject)
    return spec
