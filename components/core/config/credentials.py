"""Credentials: the operator's OAuth client and the secret values the stack hands on."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..identifiers import chart_version_tuple
from ..problems import Problem
from ..spec import (
    WORKLOAD_IDENTITY_BROKEN_CHART_VERSIONS,
    WORKLOAD_IDENTITY_BROKEN_REASON,
    ClusterAccessSpec,
    OAuthSettings,
    WorkloadIdentity,
)
from .reader import ConfigReader, Spelling

# Config paths that must be stored with `pulumi config set --secret` (warned about otherwise).
SECRET_FIELDS = frozenset({"oauth.clientSecret", "sessionRecording.s3.secretAccessKey"})
# Config paths handled as secrets everywhere: wrapped as Pulumi secrets, redacted from output.
SECRET_VALUE_PATHS = ("oauth.clientSecret", "sessionRecording.s3.secretAccessKey",
                      "sessionRecording.s3.accessKeyId")


@dataclass(frozen=True, eq=False)
class SecretInputs:
    """The secret values of one stack, as given (config strings, `secure:` placeholders or
    Pulumi Outputs). Kept apart from the spec, which is shown to reviewers."""

    values: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """Config path (one of SECRET_VALUE_PATHS) -> value, for the paths that are set."""

    def get(self, path: str) -> Any:
        return self.values.get(path)


def is_secret_placeholder(value: Any) -> bool:
    """A `secure:` value that could not be decrypted here (offline plan): an unknown secret."""
    return isinstance(value, Mapping) and set(value) == {"secure"}


def looks_like_output(value: Any) -> bool:
    # Component callers pass pulumi.Output secrets; the pure core only checks presence.
    return type(value).__name__ == "Output"


def check_secret_value(reader: ConfigReader, name: str) -> bool:
    """Whether `name` is set; a problem if it is set to something no secret can be."""
    value = reader.get(name)
    if value is None:
        return False
    if not (isinstance(value, str) or is_secret_placeholder(value) or looks_like_output(value)):
        path = reader.key(name)
        # Name the type only: the value is a secret, even when it is not a string.
        reader.problem(path, f"expected a string, got a {type(value).__name__}.",
                       f"quote the secret, or set it with `pulumi config set --secret --path "
                       f"{path}`.")
    return True


def is_https_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return (parts.scheme == "https" and bool(parts.hostname) and not parts.query
            and not parts.fragment and not any(c.isspace() for c in value))


def read_workload_identity(reader: ConfigReader, given: bool) -> WorkloadIdentity | None:
    if not given:
        return None
    issuer = reader.string("issuer", "")
    audience = reader.string("audience", "")
    allow_public_discovery = reader.boolean("allowPublicDiscovery", False)
    reader.finish()
    fix = ("the cluster's OIDC issuer, an https URL such as "
           '"https://oidc.eks.us-east-1.amazonaws.com/id/<id>" (EKS: aws eks describe-cluster '
           "--query cluster.identity.oidc.issuer; others: kubectl get --raw "
           "/.well-known/openid-configuration).")
    if not reader.has("issuer"):
        reader.problem(reader.key("issuer"), "is required with oauth.workloadIdentity.", fix)
    elif not is_https_url(issuer):
        reader.problem(reader.key("issuer"), f'"{issuer}" is not an https URL.', fix)
    return WorkloadIdentity(issuer=issuer, audience=audience,
                            allow_public_discovery=allow_public_discovery)


def read_oauth(reader: ConfigReader) -> OAuthSettings:
    client_id = reader.string("clientId", "")
    has_secret = check_secret_value(reader, "clientSecret")
    workload_identity = read_workload_identity(reader.obj("workloadIdentity"),
                                               reader.has("workloadIdentity"))
    reader.finish()
    if workload_identity is not None:
        given = [reader.key(name) for name, is_set in (("clientId", bool(client_id)),
                                                       ("clientSecret", has_secret)) if is_set]
        if given:
            reader.problem(reader.key("workloadIdentity"),
                           f"cannot be combined with {' and '.join(given)}: with workload "
                           "identity the stack creates a federated identity and stores no "
                           "secret.",
                           f"remove {' and '.join(given)} (pulumi config rm --path ...), or "
                           "remove oauth.workloadIdentity to keep the OAuth client.")
        return OAuthSettings(workload_identity=workload_identity)
    if client_id and not has_secret:
        reader.problem(reader.key("clientSecret"), "is required when oauth.clientId is set.",
                       "pulumi config set --secret --path oauth.clientSecret <secret>.")
    if has_secret and not client_id:
        reader.problem(reader.key("clientId"), "is required when oauth.clientSecret is set.",
                       "set both, or neither to let the stack create an OAuth client.")
    return OAuthSettings(client_id=client_id, has_client_secret=has_secret)


def check_workload_identity(spec: ClusterAccessSpec) -> list[Problem]:
    """Workload identity needs an operator release in which it works."""
    version = chart_version_tuple(spec.operator.chart_version)
    low, high = WORKLOAD_IDENTITY_BROKEN_CHART_VERSIONS
    if spec.oauth.workload_identity is None or version is None or not low <= version <= high:
        return []
    return [Problem("operator.chartVersion",
                    f'"{spec.operator.chart_version}" {WORKLOAD_IDENTITY_BROKEN_REASON}',
                    'use "1.98.4" or newer (the default is the checked release), or the '
                    "OAuth client (remove oauth.workloadIdentity).")]


def secret_inputs(raw: Mapping[str, Any], spelling: Spelling) -> SecretInputs:
    """The values at SECRET_VALUE_PATHS, looked up in the source's spelling."""
    values: dict[str, Any] = {}
    for path in SECRET_VALUE_PATHS:
        node: Any = raw
        for name in path.split("."):
            if not isinstance(node, Mapping):
                node = None
                break
            node = node.get(ConfigReader(node, "", [], spelling).source_key(name))
        if node is not None:
            values[path] = node
    return SecretInputs(values)
