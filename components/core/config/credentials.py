"""Credentials: the operator's OAuth client (or workload identity) and the secret values the
stack hands on."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..chart import WORKLOAD_IDENTITY_BROKEN_CHART_VERSIONS, WORKLOAD_IDENTITY_BROKEN_REASON
from ..identifiers import chart_version_tuple
from ..parts import OperatorInstall
from ..problems import Problem
from ..spec import ISSUER_FIX, ClusterAccessSpec, OAuthSettings
from .reader import SpecReader, is_secret_placeholder, join, looks_like_output, quoted

# Config paths that must be stored with `pulumi config set --secret` (warned about otherwise).
SECRET_FIELDS = frozenset({"oauth.clientSecret", "sessionRecording.s3.secretAccessKey"})
# Config paths handled as secrets everywhere: wrapped as Pulumi secrets, redacted from output.
SECRET_VALUE_PATHS = ("oauth.clientSecret", "sessionRecording.s3.secretAccessKey",
                      "sessionRecording.s3.accessKeyId")

__all__ = ["SECRET_FIELDS", "SECRET_VALUE_PATHS", "SecretInputs", "check_https_url",
           "check_oauth", "check_operator_install", "check_workload_identity",
           "is_https_url", "is_secret_placeholder", "looks_like_output"]


@dataclass(frozen=True, eq=False)
class SecretInputs:
    """The values kept out of the spec (secrets as config strings, `secure:` placeholders or
    Pulumi Outputs; other Pulumi inputs), by camelCase path. Kept apart from the spec, which
    is shown to reviewers."""

    values: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def get(self, path: str) -> Any:
        return self.values.get(path)


def is_https_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return (parts.scheme == "https" and bool(parts.hostname) and not parts.query
            and not parts.fragment and not any(c.isspace() for c in value))


def check_https_url(reader: SpecReader, key: str, value: str) -> None:
    if not is_https_url(value):
        reader.problem(key, f"{quoted(value)} is not an https URL.", ISSUER_FIX)


def check_oauth(reader: SpecReader, oauth: OAuthSettings, path: str,
                given: frozenset[str]) -> None:
    if oauth.workload_identity is not None:
        named = [join(path, name) for name, is_set in (("clientId", bool(oauth.client_id)),
                                                       ("clientSecret", oauth.has_client_secret))
                 if is_set]
        if named:
            reader.problem(join(path, "workloadIdentity"),
                           f"cannot be combined with {' and '.join(named)}: with workload "
                           "identity the stack creates a federated identity and stores no "
                           "secret.",
                           f"remove {' and '.join(named)} (pulumi config rm --path ...), or "
                           "remove oauth.workloadIdentity to keep the OAuth client.")
        return
    check_client_pair(reader, join(path, "clientId"), bool(oauth.client_id),
                      join(path, "clientSecret"), oauth.has_client_secret)


def check_client_pair(reader: SpecReader, id_key: str, has_id: bool, secret_key: str,
                      has_secret: bool) -> None:
    """A brought OAuth client needs its ID and its secret together."""
    if has_id and not has_secret:
        reader.problem(secret_key, f"is required when {id_key} is set.",
                       f"set the client's secret too (pulumi config set --secret --path "
                       f"{secret_key} <secret>).")
    if has_secret and not has_id:
        reader.problem(id_key, f"is required when {secret_key} is set.",
                       "set both, or neither to let the stack create an OAuth client.")


def workload_identity_chart_problem(key: str, chart_version: str) -> Problem | None:
    """Workload identity needs an operator release in which it works."""
    version = chart_version_tuple(chart_version)
    low, high = WORKLOAD_IDENTITY_BROKEN_CHART_VERSIONS
    if version is None or not low <= version <= high:
        return None
    return Problem(key, f"{quoted(chart_version)} {WORKLOAD_IDENTITY_BROKEN_REASON}",
                   'use "1.98.4" or newer (the default is the checked release), or the '
                   "OAuth client (remove oauth.workloadIdentity).")


def check_workload_identity(spec: ClusterAccessSpec) -> list[Problem]:
    if spec.oauth.workload_identity is None:
        return []
    problem = workload_identity_chart_problem("operator.chartVersion",
                                              spec.operator.chart_version)
    return [problem] if problem else []


def check_operator_install(reader: SpecReader, install: OperatorInstall, path: str,
                           given: frozenset[str]) -> None:
    if install.workload_identity_issuer:
        if install.has_oauth_client_id or install.has_oauth_client_secret:
            reader.problem(join(path, "workloadIdentityIssuer"),
                           "cannot be combined with oauthClientId or oauthClientSecret: with "
                           "workload identity the component creates a federated identity and "
                           "stores no secret.", "give one of them.")
        problem = workload_identity_chart_problem(join(path, "chartVersion"),
                                                  install.chart_version)
        if problem:
            reader.problems.append(problem)
        return
    check_client_pair(reader, join(path, "oauthClientId"), install.has_oauth_client_id,
                      join(path, "oauthClientSecret"), install.has_oauth_client_secret)
