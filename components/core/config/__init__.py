"""Turn raw stack configuration (camelCase keys, as in `Pulumi.<stack>.yaml`) into a
`ClusterAccessSpec`, collecting every problem instead of stopping at the first.

The same function validates component args (after `args_to_config`), so a typo in a
stack file and a bad argument from another program get the same checks and messages.
"""

import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from typing import Any, TypeVar

from ..policy.sections import case_clashes, section
from ..problems import InvalidConfig, Problem
from ..spec import (
    ADMIN_CLUSTER_ROLES,
    BROKEN_CHART_VERSIONS,
    DNS_LABEL_RE,
    MIN_CHART_VERSION,
    MIN_CHART_VERSION_FOR_EVENTS,
    RANDOM_SUFFIX_LENGTH,
    SUFFIXED_HOSTNAME_MAX,
    AccessRule,
    ClusterAccessSpec,
    HostnameSuffix,
    OAuthSettings,
    OperatorSettings,
    PolicySettings,
    ProxySettings,
    RoleBinding,
    S3Storage,
    SessionRecording,
    Tags,
    TagScheme,
    fleet_tags,
)

TAG_RE = re.compile(r"^tag:[a-zA-Z][a-zA-Z0-9-]*$")
GROUP_RE = re.compile(r"^group:[a-zA-Z0-9][a-zA-Z0-9._+-]*(@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,})?$")
USER_RE = re.compile(r"^[a-zA-Z0-9._%+'-]+@[a-zA-Z0-9.-]+(\.[a-zA-Z]{2,}|@github|@passkey)?$")
DOMAIN_WILDCARD_RE = re.compile(r"^\*@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$")
POSTURE_RE = re.compile(r"^posture:[a-zA-Z0-9][a-zA-Z0-9_-]*$")
# ClusterRole names are path segments; `system:aggregate-to-view` style colons are common.
CLUSTER_ROLE_RE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9:._-]{0,251}[a-zA-Z0-9])?$")
KUBERNETES_GROUP_RE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9:._@/-]{0,251}[a-zA-Z0-9])?$")
CHART_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
# A GitOps repo may also use a custom tailnet DNS name; it only has to look like one.
ANY_DOMAIN_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")

KNOWN_AUTOGROUPS = frozenset(
    {
        "autogroup:member",
        "autogroup:tagged",
        "autogroup:admin",
        "autogroup:owner",
        "autogroup:it-admin",
        "autogroup:network-admin",
        "autogroup:billing-admin",
        "autogroup:auditor",
        "autogroup:shared",
        "autogroup:nonroot",
    }
)
BROAD_SOURCES = frozenset({"*", "autogroup:member", "autogroup:tagged", "autogroup:shared"})

# Config paths that must be stored with `pulumi config set --secret` (warned about otherwise).
SECRET_FIELDS = frozenset({"oauth.clientSecret", "sessionRecording.s3.secretAccessKey"})
# Config paths handled as secrets everywhere: wrapped as Pulumi secrets, redacted from output.
SECRET_VALUE_PATHS = ("oauth.clientSecret", "sessionRecording.s3.secretAccessKey",
                      "sessionRecording.s3.accessKeyId")

IDENTITY_HINT = (
    "use group:<name>, tag:<name>, a user's login email, autogroup:member (or another autogroup), "
    '"*@<domain>" or "*"'
)

T = TypeVar("T")


def is_broad_source(src: str) -> bool:
    return src in BROAD_SOURCES or bool(DOMAIN_WILDCARD_RE.match(src))


def is_scim_group(group: str) -> bool:
    """SCIM-synced groups (`group:name@domain`) live in the identity provider, not the file."""
    return "@" in group


def chart_version_tuple(version: str) -> tuple[int, int, int] | None:
    match = CHART_VERSION_RE.match(version)
    if not match:
        return None
    return (int(match[1]), int(match[2]), int(match[3]))


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def is_secret_placeholder(value: Any) -> bool:
    """A `secure:` value that could not be decrypted here (offline plan): an unknown secret."""
    return isinstance(value, Mapping) and set(value) == {"secure"}


class _Reader:
    """Reads one object of the config, recording problems under dotted key paths."""

    def __init__(self, data: Mapping[str, Any], path: str, problems: list[Problem]):
        self.data = data
        self.path = path
        self.problems = problems
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def problem(self, key: str, message: str, fix: str = "") -> None:
        self.problems.append(Problem(key, message, fix))

    def _get(self, name: str) -> Any:
        self.seen.add(name)
        return self.data.get(name)

    def has(self, name: str) -> bool:
        self.seen.add(name)
        return name in self.data and self.data[name] is not None

    def string(
        self, name: str, default: str, pattern: re.Pattern[str] | None = None, fix: str = ""
    ) -> str:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, str):
            self.problem(self.key(name), f"expected a string, got {_describe(value)}.", fix)
            return default
        if pattern is not None and not pattern.match(value):
            self.problem(self.key(name), f"{_describe(value)} is not valid.", fix)
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self._get(name)
        if value is None:
            return default
        # Pulumi passes scalar config as strings; accept the two spellings it writes.
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        if not isinstance(value, bool):
            self.problem(
                self.key(name),
                f"expected true or false, got {_describe(value)}.",
                "write true or false without quotes.",
            )
            return default
        return value

    def integer(self, name: str, default: int, minimum: int) -> int:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(self.key(name), f"expected a whole number, got {_describe(value)}.")
            return default
        if value < minimum:
            self.problem(
                self.key(name),
                f"must be at least {minimum}, got {value}.",
                f"set it to {minimum} or more.",
            )
            return default
        return value

    def string_list(
        self,
        name: str,
        item_check: Callable[[str, str], None] | None = None,
        required: bool = False,
    ) -> tuple[str, ...]:
        value = self._get(name)
        key = self.key(name)
        if value is None:
            if required:
                self.problem(key, "is required.", "give a non-empty list.")
            return ()
        if not isinstance(value, list):
            self.problem(
                key,
                f"expected a list of strings, got {_describe(value)}.",
                f'write it as a YAML list, e.g. {name}: ["..."].',
            )
            return ()
        if required and not value:
            self.problem(key, "must not be empty.", "give at least one entry.")
        items: list[str] = []
        for index, item in enumerate(value):
            item_key = f"{key}[{index}]"
            if not isinstance(item, str):
                self.problem(item_key, f"expected a string, got {_describe(item)}.")
                continue
            if item in items:
                self.problem(
                    item_key, f"{_describe(item)} is listed twice.", "remove the duplicate."
                )
                continue
            if item_check is not None:
                item_check(item_key, item)
            items.append(item)
        return tuple(items)

    def obj(self, name: str) -> "_Reader":
        value = self._get(name)
        key = self.key(name)
        if value is None:
            return _Reader({}, key, self.problems)
        if not isinstance(value, Mapping):
            self.problem(key, f"expected an object, got {_describe(value)}.")
            return _Reader({}, key, self.problems)
        return _Reader(value, key, self.problems)

    def objects(self, name: str) -> Iterator["_Reader"]:
        value = self._get(name)
        key = self.key(name)
        if value is None:
            return
        if not isinstance(value, list):
            self.problem(
                key,
                f"expected a list of objects, got {_describe(value)}.",
                f"write each entry of {name} as a YAML list item starting with '-'.",
            )
            return
        for index, item in enumerate(value):
            item_key = f"{key}[{index}]"
            if not isinstance(item, Mapping):
                self.problem(
                    item_key,
                    f"expected an object, got {_describe(item)}.",
                    "give the entry's settings as key: value pairs.",
                )
                continue
            yield _Reader(item, item_key, self.problems)

    def mapping(self, name: str) -> Mapping[str, Any]:
        value = self._get(name)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problem(self.key(name), f"expected an object, got {_describe(value)}.")
            return {}
        return value

    def finish(self, allowed: Callable[[str], bool] | None = None) -> None:
        """Unknown keys are errors: a typo must not silently fall back to a default."""
        for name in self.data:
            if name in self.seen or (allowed is not None and allowed(name)):
                continue
            known = ", ".join(sorted(self.seen)) or "none"
            self.problem(
                self.key(name),
                "is not a known setting.",
                f"check the spelling; known keys here: {known}.",
            )


def _check_tag(problems: list[Problem], key: str, value: str) -> None:
    if not TAG_RE.match(value):
        problems.append(
            Problem(
                key,
                f"{_describe(value)} is not a tag.",
                'tags look like "tag:k8s-operator": "tag:", a letter, then letters, '
                "digits or dashes.",
            )
        )


def _check_identity(problems: list[Problem], key: str, value: str) -> None:
    if value == "*" or value in KNOWN_AUTOGROUPS or DOMAIN_WILDCARD_RE.match(value):
        return
    if value.startswith("tag:"):
        _check_tag(problems, key, value)
    elif value.startswith("group:"):
        if not GROUP_RE.match(value):
            problems.append(
                Problem(
                    key,
                    f"{_describe(value)} is not a valid group name.",
                    'groups look like "group:ml-engineers".',
                )
            )
    elif value.startswith("autogroup:"):
        problems.append(
            Problem(
                key,
                f"{_describe(value)} is not an autogroup Tailscale knows.",
                "use one of " + ", ".join(sorted(KNOWN_AUTOGROUPS)) + ".",
            )
        )
    elif not USER_RE.match(value):
        problems.append(
            Problem(key, f"{_describe(value)} is not a tailnet identity.", IDENTITY_HINT)
        )


def _check_member(problems: list[Problem], key: str, value: str) -> None:
    if value.startswith("group:"):
        problems.append(
            Problem(
                key,
                f"{_describe(value)}: groups cannot contain groups.",
                "list the members' login emails instead.",
            )
        )
    elif not USER_RE.match(value):
        problems.append(
            Problem(
                key,
                f"{_describe(value)} is not a login email.",
                'members are users, e.g. "alice@example.com".',
            )
        )


def _read_tags(reader: _Reader, defaults: Tags | None = None) -> Tags:
    problems = reader.problems
    fix = 'tags look like "tag:k8s-operator".'
    defaults = defaults or Tags()
    tags = Tags(
        operator=reader.string("operator", defaults.operator, TAG_RE, fix),
        proxy=reader.string("proxy", defaults.proxy, TAG_RE, fix),
        recorder=reader.string("recorder", defaults.recorder, TAG_RE, fix),
    )
    reader.finish()
    named = {"operator": tags.operator, "proxy": tags.proxy, "recorder": tags.recorder}
    seen: dict[str, str] = {}
    for role, tag in named.items():
        if tag in seen:
            problems.append(
                Problem(
                    reader.key(role),
                    f'"{tag}" is also tags.{seen[tag]}.',
                    "give the operator, the proxies and the recorder distinct tags "
                    "so that the policy can tell them apart.",
                )
            )
        seen.setdefault(tag, role)
    return tags


def _read_operator(reader: _Reader) -> OperatorSettings:
    namespace = reader.string(
        "namespace",
        OperatorSettings.namespace,
        DNS_LABEL_RE,
        "a namespace is a DNS label: lower-case letters, digits and dashes.",
    )
    chart_version = reader.string("chartVersion", OperatorSettings.chart_version)
    hostname = reader.string(
        "hostname",
        OperatorSettings.hostname,
        DNS_LABEL_RE,
        "a tailnet hostname is a DNS label: lower-case letters, digits and "
        "dashes, at most 63 characters.",
    )
    reader.finish()
    parsed = chart_version_tuple(chart_version)
    if parsed is None:
        reader.problem(
            reader.key("chartVersion"),
            f'"{chart_version}" is not a chart version.',
            'pin an exact release such as "1.92.4" (published chart versions equal '
            "Tailscale releases).",
        )
    elif parsed < MIN_CHART_VERSION:
        reader.problem(
            reader.key("chartVersion"),
            f'"{chart_version}" is too old.',
            "use 1.88.0 or newer (the kube-apiserver ProxyGroup DNS fix, "
            "tailscale/tailscale#16920).",
        )
    elif chart_version in BROKEN_CHART_VERSIONS:
        reader.problem(
            reader.key("chartVersion"),
            f'"{chart_version}" {BROKEN_CHART_VERSIONS[chart_version]}',
            'use "1.92.4" or newer.',
        )
    return OperatorSettings(namespace=namespace, chart_version=chart_version, hostname=hostname)


def _read_proxy(reader: _Reader) -> ProxySettings:
    mode = reader.string("mode", "auth")
    if mode not in ("auth", "noauth"):
        reader.problem(
            reader.key("mode"),
            f'"{mode}" is not a proxy mode.',
            'use "auth" (impersonates the caller) or "noauth".',
        )
        mode = "auth"
    settings = ProxySettings(
        mode="auth" if mode == "auth" else "noauth",
        high_availability=reader.boolean("highAvailability", False),
        replicas=reader.integer("replicas", 2, minimum=1),
        hostname=reader.string(
            "hostname",
            "",
            DNS_LABEL_RE,
            "the ProxyGroup hostname is a DNS label: lower-case letters, digits "
            "and dashes, at most 63 characters.",
        ),
        acknowledge_noauth=reader.boolean("acknowledgeNoauth", False),
        hostname_suffix=_read_hostname_suffix(reader),
    )
    reader.finish()
    if settings.mode == "noauth" and not settings.acknowledge_noauth:
        reader.problem(
            reader.key("mode"),
            "noauth passes every request to the API server without impersonation, so "
            "the grants in this stack would not limit what callers can do.",
            "keep mode auth, or set proxy.acknowledgeNoauth: true if another "
            "authenticating proxy sits behind it.",
        )
    if not settings.high_availability:
        if reader.has("hostname"):
            reader.problem(
                reader.key("hostname"),
                "only applies to the high-availability ProxyGroup.",
                "set proxy.highAvailability: true, or name the in-process proxy with "
                "operator.hostname.",
            )
        if reader.has("replicas"):
            reader.problem(
                reader.key("replicas"),
                "only applies to the high-availability ProxyGroup.",
                "set proxy.highAvailability: true or remove proxy.replicas.",
            )
        if settings.hostname_suffix:
            reader.problem(
                reader.key("hostnameSuffix"),
                "only applies to the high-availability ProxyGroup.",
                "set proxy.highAvailability: true, or give each stack its own operator.hostname.",
            )
    return settings


def _read_hostname_suffix(reader: _Reader) -> HostnameSuffix:
    value = reader.string("hostnameSuffix", "")
    if value in ("", "none"):
        return ""
    if value != "random":
        reader.problem(
            reader.key("hostnameSuffix"),
            f'"{value}" is not a hostname suffix.',
            f'use "random" (a stable suffix of {RANDOM_SUFFIX_LENGTH} random '
            'letters and digits, for ephemeral or PR stacks) or "none".',
        )
        return ""
    return "random"


def _read_tag_scheme(reader: _Reader) -> TagScheme:
    value = reader.string("tagScheme", "shared")
    if value == "per-cluster":
        return "per-cluster"
    if value != "shared":
        reader.problem(
            reader.key("tagScheme"),
            f'"{value}" is not a tag scheme.',
            'use "shared" (the guide\'s tags, one cluster per tailnet) or '
            '"per-cluster" (tag:k8s-operator-<cluster>, tag:k8s-<cluster>, '
            "tag:tsrecorder-<cluster>, for several clusters in one tailnet).",
        )
    return "shared"


def _read_access(reader: _Reader) -> tuple[AccessRule, ...]:
    rules: list[AccessRule] = []
    first_seen: dict[AccessRule, str] = {}
    problems = reader.problems  # shared by every nested reader
    for rule_reader in reader.objects("access"):
        src = rule_reader.string_list(
            "src", lambda k, v: _check_identity(problems, k, v), required=True
        )
        groups = rule_reader.string_list(
            "kubernetesGroups", lambda k, v: _check_kubernetes_group(problems, k, v), required=True
        )
        record = rule_reader.boolean("recordSessions", False)
        posture = rule_reader.string_list(
            "posture", lambda k, v: _check_posture_name(problems, k, v)
        )
        rule_reader.finish()
        rule = AccessRule(
            src=src, kubernetes_groups=groups, record_sessions=record, posture=posture
        )
        canonical = AccessRule(
            src=tuple(sorted(src)),
            kubernetes_groups=tuple(sorted(groups)),
            record_sessions=record,
            posture=tuple(sorted(posture)),
        )
        if canonical in first_seen:
            rule_reader.problem(
                rule_reader.path,
                f"repeats {first_seen[canonical]}.",
                "remove one of the two rules.",
            )
        else:
            first_seen[canonical] = rule_reader.path
        rules.append(rule)
    return tuple(rules)


def _check_kubernetes_group(problems: list[Problem], key: str, value: str) -> None:
    if not KUBERNETES_GROUP_RE.match(value):
        problems.append(
            Problem(
                key,
                f"{_describe(value)} is not a usable Kubernetes group name.",
                'use letters, digits and ":._@/-", e.g. "tailnet-readers".',
            )
        )


def _check_posture_name(problems: list[Problem], key: str, value: str) -> None:
    if not POSTURE_RE.match(value):
        problems.append(
            Problem(
                key,
                f"{_describe(value)} is not a posture name.",
                'postures are named like "posture:latest".',
            )
        )


def _read_role_bindings(reader: _Reader) -> tuple[RoleBinding, ...]:
    bindings: list[RoleBinding] = []
    names: dict[str, str] = {}
    for item in reader.objects("roleBindings"):
        group = item.string("group", "")
        role = item.string("clusterRole", "")
        item.finish()
        if not group:
            item.problem(
                item.key("group"),
                "is required.",
                "name the Kubernetes group the access rules impersonate.",
            )
        elif not KUBERNETES_GROUP_RE.match(group):
            item.problem(
                item.key("group"),
                f'"{group}" is not a usable Kubernetes group name.',
                'use letters, digits and ":._@/-", e.g. "tailnet-readers".',
            )
        if not role:
            item.problem(
                item.key("clusterRole"),
                "is required.",
                'name a ClusterRole such as "view" or "edit".',
            )
        elif not CLUSTER_ROLE_RE.match(role):
            item.problem(
                item.key("clusterRole"),
                f'"{role}" is not a valid ClusterRole name.',
                'ClusterRole names look like "view" or "system:aggregate-to-edit".',
            )
        if group == "system:masters":
            item.problem(
                item.key("group"),
                "system:masters is already bound to cluster-admin by Kubernetes.",
                "remove this binding.",
            )
        binding = RoleBinding(group=group, cluster_role=role)
        if group and role:
            if binding.name in names:
                item.problem(item.path, f"repeats {names[binding.name]}.", "remove one of them.")
                continue
            names[binding.name] = item.path
            bindings.append(binding)
    return tuple(bindings)


def check_role_bindings(raw: Any) -> list[Problem]:
    """The problems of a `roleBindings` list alone (keys named `roleBindings[i]...`)."""
    problems: list[Problem] = []
    _read_role_bindings(_Reader({"roleBindings": raw}, "", problems))
    return problems


def _read_named_lists(
    reader: _Reader,
    name: str,
    key_re: re.Pattern[str],
    key_fix: str,
    item_check: Callable[[list[Problem], str, str], None] | None,
) -> dict[str, tuple[str, ...]]:
    result: dict[str, tuple[str, ...]] = {}
    section = reader.mapping(name)
    for entry, members in section.items():
        key = f"{name}.{entry}"
        if not isinstance(entry, str) or not key_re.match(entry):
            reader.problem(key, f'"{entry}" is not a valid name here.', key_fix)
            continue
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            reader.problem(key, f"expected a list of strings, got {_describe(members)}.")
            continue
        if item_check is not None:
            for index, member in enumerate(members):
                item_check(reader.problems, f"{key}[{index}]", member)
        result[entry] = tuple(members)
    return result


def _read_session_recording(reader: _Reader) -> SessionRecording:
    enabled = reader.boolean("enabled", False)
    enforce = reader.boolean("enforce", True)
    events = reader.boolean("recordApiRequests", False)
    replicas = reader.integer("replicas", 1, minimum=1)
    s3: S3Storage | None = None
    if reader.has("s3"):
        s3_reader = reader.obj("s3")
        endpoint = s3_reader.string("endpoint", "", fix='e.g. "s3.us-east-1.amazonaws.com".')
        bucket = s3_reader.string("bucket", "")
        access_key = s3_reader.has("accessKeyId")
        secret_key = s3_reader.has("secretAccessKey")
        role_arn = s3_reader.string("roleArn", "")
        s3_reader.finish()
        if not endpoint:
            s3_reader.problem(
                s3_reader.key("endpoint"),
                "is required with S3 storage.",
                'e.g. "s3.us-east-1.amazonaws.com".',
            )
        if not bucket:
            s3_reader.problem(
                s3_reader.key("bucket"),
                "is required with S3 storage.",
                "name a bucket used only for recordings.",
            )
        if access_key != secret_key:
            s3_reader.problem(
                s3_reader.key("secretAccessKey" if access_key else "accessKeyId"),
                "static S3 credentials need both accessKeyId and secretAccessKey.",
                "set both (the secret with `pulumi config set --secret --path "
                "sessionRecording.s3.secretAccessKey`), or neither to use roleArn.",
            )
        if access_key and role_arn:
            s3_reader.problem(
                s3_reader.key("roleArn"), "give either static keys or roleArn, not both."
            )
        s3 = S3Storage(
            endpoint=endpoint,
            bucket=bucket,
            static_credentials=access_key and secret_key,
            role_arn=role_arn,
        )
    reader.finish()
    if replicas > 1 and s3 is None:
        reader.problem(
            reader.key("replicas"),
            "more than one recorder replica needs S3 storage (the Recorder CRD rejects "
            "it otherwise).",
            "configure sessionRecording.s3 or use 1 replica.",
        )
    return SessionRecording(
        enabled=enabled, enforce=enforce, record_api_requests=events, replicas=replicas, s3=s3
    )


def _read_policy(reader: _Reader) -> PolicySettings:
    manage = reader.boolean("manage", True)
    base = reader.string("base", "")
    adopt = reader.boolean("adoptExisting", False)
    rules = reader.string("networkRules", "acls")
    reader.finish()
    if rules not in ("acls", "grants"):
        reader.problem(
            reader.key("networkRules"),
            f'"{rules}" is not a network rule style.',
            'use "acls" (like the guide) or "grants".',
        )
        rules = "acls"
    if adopt and not manage:
        reader.problem(
            reader.key("adoptExisting"),
            "only applies when the stack writes the policy (policy.manage: true).",
        )
    return PolicySettings(
        manage=manage,
        base=base,
        adopt_existing=adopt,
        network_rules="grants" if rules == "grants" else "acls",
    )


def _read_oauth(reader: _Reader) -> OAuthSettings:
    client_id = reader.string("clientId", "")
    has_secret = reader.has("clientSecret")
    secret = reader.data.get("clientSecret")
    reader.finish()
    if has_secret and not (
        isinstance(secret, str) or is_secret_placeholder(secret) or _looks_like_output(secret)
    ):
        # Name the type only: the value is a secret, even when it is not a string.
        reader.problem(reader.key("clientSecret"),
                       f"expected a string, got a {type(secret).__name__}.",
                       "quote the secret, or set it with `pulumi config set --secret --path "
                       "oauth.clientSecret`.")
    if client_id and not has_secret:
        reader.problem(
            reader.key("clientSecret"),
            "is required when oauth.clientId is set.",
            "pulumi config set --secret --path oauth.clientSecret <secret>.",
        )
    if has_secret and not client_id:
        reader.problem(
            reader.key("clientId"),
            "is required when oauth.clientSecret is set.",
            "set both, or neither to let the stack create an OAuth client.",
        )
    return OAuthSettings(client_id=client_id, has_client_secret=has_secret)


def _looks_like_output(value: Any) -> bool:
    # Component callers pass pulumi.Output secrets; the pure core only checks presence.
    return type(value).__name__ == "Output"



DEFAULT_ACCESS = [
    {"src": ["group:ml-engineers"], "kubernetesGroups": ["system:masters"]},
    {"src": ["group:ml-readers"], "kubernetesGroups": ["tailnet-readers"]},
]
DEFAULT_ROLE_BINDINGS = [{"group": "tailnet-readers", "clusterRole": "view"}]


def parse_spec(
    raw: Mapping[str, Any],
    *,
    base_policy: Mapping[str, Any] | None = None,
    prefix: str = "",
    subject: str = "configuration",
) -> ClusterAccessSpec:
    """Validate raw configuration; raise `InvalidConfig` listing every problem.

    `base_policy` is the parsed base policy file, if any: groups, postures and tags it
    defines count as defined.
    """
    problems: list[Problem] = []
    root = _Reader(raw, "", problems)
    cluster = root.string(
        "cluster",
        "",
        DNS_LABEL_RE,
        "name the cluster with a DNS label: lower-case letters, digits and "
        "dashes, at most 63 characters.",
    )
    if not root.has("cluster"):
        root.problem(
            "cluster", "is required.", "pulumi config set cluster <name>, e.g. gpu-training."
        )
    tag_scheme = _read_tag_scheme(root)
    per_cluster = tag_scheme == "per-cluster" and DNS_LABEL_RE.match(cluster)
    scheme_tags = fleet_tags(cluster) if per_cluster else None
    tags = _read_tags(root.obj("tags"), scheme_tags)
    operator = _read_operator(root.obj("operator"))
    proxy = _read_proxy(root.obj("proxy"))
    defaults = {"access": DEFAULT_ACCESS, "roleBindings": DEFAULT_ROLE_BINDINGS}
    with_defaults = _Reader({**defaults, **raw}, "", problems)
    access = _read_access(with_defaults)
    bindings = _read_role_bindings(with_defaults)
    root.seen.update(("access", "roleBindings"))
    groups = _read_named_lists(
        root, "groups", GROUP_RE, 'groups are named like "group:ml-readers".', _check_member
    )
    postures = _read_named_lists(
        root, "postures", POSTURE_RE, 'postures are named like "posture:latest".', None
    )
    recording = _read_session_recording(root.obj("sessionRecording"))
    policy = _read_policy(root.obj("policy"))
    oauth = _read_oauth(root.obj("oauth"))
    allow_broad_admin = root.boolean("allowBroadAdmin", False)
    tailnet_domain = root.string(
        "tailnetDomain", "", ANY_DOMAIN_RE, 'the tailnet DNS name, e.g. "tailxyz.ts.net".'
    )
    root.finish()

    spec = ClusterAccessSpec(
        cluster=cluster,
        tags=tags,
        operator=operator,
        proxy=proxy,
        access=access,
        role_bindings=bindings,
        groups=groups,
        postures=postures,
        session_recording=recording,
        policy=policy,
        oauth=oauth,
        allow_broad_admin=allow_broad_admin,
        tailnet_domain=tailnet_domain,
        tag_scheme=tag_scheme,
    )
    problems.extend(cross_checks(spec, base_policy))
    if problems:
        raise InvalidConfig(problems, prefix=prefix, subject=subject)
    return spec


def cross_checks(spec: ClusterAccessSpec, base: Mapping[str, Any] | None) -> list[Problem]:
    """Rules that relate several settings (and the base policy) to each other."""
    problems: list[Problem] = []
    base = base or {}
    base_groups = _keys(section(base, "groups"))
    base_postures = _keys(section(base, "postures"))
    base_tags = _keys(section(base, "tagOwners"))
    owned_tags = base_tags | {spec.tags.operator, spec.tags.proxy, spec.tags.recorder}
    whole_policy_known = spec.policy.manage or bool(spec.policy.base)
    recording = spec.session_recording

    if spec.policy.manage and not spec.policy.base:
        problems.append(Problem(
            "policy.base",
            "is required when the stack writes the tailnet policy (policy.manage: true): "
            "tailscale.Acl replaces the whole file, so without a base the first `pulumi up` "
            "would drop every rule other teams wrote (on a new tailnet, the default allow-all "
            "rule).",
            "export the live policy into a file (admin console > Access controls, or "
            "`tailscale.get_acl().hujson`) and point policy.base at it; to replace the whole "
            "policy on purpose, point it at a file that holds {}; or set policy.manage: false "
            "to export only this stack's fragment."))
    for first, second in case_clashes(base):
        problems.append(Problem(
            "policy.base", f'has both "{first}" and "{second}"; Tailscale reads keys without '
            "regard to case, so it would see only one of them.", "merge them into one section."))
    if section(base, "defaultSrcPosture"):
        problems.append(Problem(
            "policy.base",
            "sets defaultSrcPosture, which Tailscale applies to every rule without a posture of "
            "its own: the proxy-to-recorder rule (recorded sessions would be refused) and the "
            "policy tests this stack generates included.",
            "give the rules that need a posture their own srcPosture and remove "
            "defaultSrcPosture, or require the posture here with access[].posture."))

    for index, rule in enumerate(spec.access):
        key = f"access[{index}]"
        admin_roles = [
            group
            for group in rule.kubernetes_groups
            if ADMIN_CLUSTER_ROLES & set(spec.cluster_roles_for(group))
        ]
        broad = [src for src in rule.src if is_broad_source(src)]
        if admin_roles and broad and not spec.allow_broad_admin:
            problems.append(
                Problem(
                    f"{key}.src",
                    f"{', '.join(broad)} would get cluster-admin "
                    f"(through {', '.join(admin_roles)}).",
                    "grant admin to a specific group, or set allowBroadAdmin: true if you really "
                    "mean everyone.",
                )
            )
        if rule.record_sessions and not recording.enabled:
            problems.append(
                Problem(
                    f"{key}.recordSessions",
                    "asks for session recording, but no recorder is deployed.",
                    "set sessionRecording.enabled: true, or remove recordSessions.",
                )
            )
        for p_index, posture in enumerate(rule.posture):
            if posture not in spec.postures and posture not in base_postures:
                problems.append(
                    Problem(
                        f"{key}.posture[{p_index}]",
                        f'"{posture}" is not defined.',
                        f'define it under postures (e.g. "{posture}": '
                        "[\"node:tsReleaseTrack == 'stable'\"]) or in the base "
                        "policy.",
                    )
                )
        for s_index, src in enumerate(rule.src):
            src_key = f"{key}.src[{s_index}]"
            if (
                src.startswith("group:")
                and whole_policy_known
                and not is_scim_group(src)
                and src not in spec.groups
                and src not in base_groups
            ):
                problems.append(
                    Problem(
                        src_key,
                        f'"{src}" is not defined.',
                        "define its members under groups, or in the base policy "
                        "file (policy.base).",
                    )
                )
            if (
                src.startswith("tag:")
                and whole_policy_known
                and TAG_RE.match(src)
                and src not in owned_tags
            ):
                problems.append(
                    Problem(
                        src_key,
                        f'"{src}" is used but nobody owns it.',
                        "add it to tagOwners in the base policy file.",
                    )
                )
            own_roles = [role for role, tag in (("operator", spec.tags.operator),
                                                ("proxy", spec.tags.proxy),
                                                ("recorder", spec.tags.recorder)) if src == tag]
            if own_roles:
                problems.append(
                    Problem(
                        src_key,
                        f'"{src}" is this stack\'s own {own_roles[0]} tag; the devices that '
                        "serve kubectl and record it cannot also be its clients.",
                        "use the tag of the clients instead.",
                    )
                )

    hostname = spec.proxy_group_hostname
    if (
        spec.proxy.hostname_suffix
        and spec.proxy.high_availability
        and len(hostname) > SUFFIXED_HOSTNAME_MAX
    ):
        problems.append(
            Problem(
                "proxy.hostname" if spec.proxy.hostname else "cluster",
                f'"{hostname}" is {len(hostname)} characters; with proxy.hostnameSuffix: random '
                f"the ProxyGroup hostname gets {RANDOM_SUFFIX_LENGTH + 1} more and must stay "
                "within 63.",
                f"use at most {SUFFIXED_HOSTNAME_MAX} characters"
                + ("." if spec.proxy.hostname else ", or set a shorter proxy.hostname."),
            )
        )

    if recording.record_api_requests:
        version = chart_version_tuple(spec.operator.chart_version)
        if version is not None and version < MIN_CHART_VERSION_FOR_EVENTS:
            problems.append(
                Problem(
                    "sessionRecording.recordApiRequests",
                    f"needs operator 1.96 or newer; operator.chartVersion is "
                    f"{spec.operator.chart_version}.",
                    "raise operator.chartVersion or turn recordApiRequests off.",
                )
            )
    if recording.enabled and not spec.recorded_rules:
        problems.append(
            Problem(
                "sessionRecording.enabled",
                "a recorder is deployed but no access rule records sessions.",
                "set recordSessions: true on the rules to record, or disable sessionRecording.",
            )
        )
    if (
        recording.enforce or recording.record_api_requests or recording.s3
    ) and not recording.enabled:
        for name, is_set in (
            ("s3", recording.s3 is not None),
            ("recordApiRequests", recording.record_api_requests),
        ):
            if is_set:
                problems.append(
                    Problem(
                        f"sessionRecording.{name}",
                        "has no effect while sessionRecording.enabled is false.",
                        "enable session recording or remove this setting.",
                    )
                )

    for name in spec.postures:
        if name in base_postures and _as_set((section(base, "postures") or {}).get(name)) != set(
            spec.postures[name]
        ):
            problems.append(
                Problem(
                    f"postures.{name}",
                    f"the base policy defines {name} differently.",
                    "use the base policy's definition, or a new posture name.",
                )
            )
    for name in spec.groups:
        if name in base_groups and _as_set((section(base, "groups") or {}).get(name)) != set(
            spec.groups[name]
        ):
            problems.append(
                Problem(
                    f"groups.{name}",
                    f"the base policy defines {name} with other members.",
                    "define the group in one place only.",
                )
            )
    base_owner_map = section(base, "tagOwners")
    if not isinstance(base_owner_map, Mapping):
        base_owner_map = {}
    assert isinstance(base_owner_map, Mapping)
    for role, tag in (("proxy", spec.tags.proxy), ("recorder", spec.tags.recorder)):
        if role == "recorder" and not recording.enabled:
            continue
        owners = base_owner_map.get(tag)
        if owners is not None and spec.tags.operator not in _as_set(owners):
            problems.append(
                Problem(
                    f"tags.{role}",
                    f'the base policy lets {owners} own "{tag}", but the operator '
                    f'("{spec.tags.operator}") must own it to tag its devices.',
                    f'add "{spec.tags.operator}" to tagOwners["{tag}"] in the base '
                    "policy, or choose another tag.",
                )
            )
    return problems


def _keys(section: Any) -> set[str]:
    return set(section) if isinstance(section, Mapping) else set()


def _as_set(value: Any) -> set[str]:
    if isinstance(value, list):
        return {str(v) for v in value}
    return set()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def args_to_config(args: Mapping[str, Any]) -> dict[str, Any]:
    """Component args use snake_case keys; map them to the config's camelCase.

    Keys of `groups` and `postures` are policy names and are kept verbatim.
    """

    def convert(value: Any, verbatim_keys: bool = False) -> Any:
        if isinstance(value, Mapping) and not _looks_like_output(value):
            return {
                (key if verbatim_keys else _camel(key)): convert(
                    item, verbatim_keys=key in ("groups", "postures") and not verbatim_keys
                )
                for key, item in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [convert(item) for item in value]
        return value

    converted = convert(dict(args))
    assert isinstance(converted, dict)
    return converted


# Keys whose value is a plain string even when it looks like JSON (`cluster: "123"`).
STRING_KEYS = frozenset({"cluster", "tailnetDomain"})


def namespace_config(values: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """The `<namespace>:<key>` entries as the program sees them: objects decoded from the JSON
    strings the engine passes, like `Config.get_object`."""
    prefix = f"{namespace}:"
    raw: dict[str, Any] = {}
    for full_key, value in values.items():
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix) :]
        if isinstance(value, str) and key not in STRING_KEYS:
            with suppress(ValueError):
                value = json.loads(value)
        raw[key] = value
    return raw


def snake_key_path(path: str) -> str:
    """`access[0].kubernetesGroups` -> `access[0].kubernetes_groups`, for Python callers."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m[1].lower(), path)


class ArgChecker:
    """Collects problems in a sub-component's args (snake_case field names)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def tags(self, key: str, tags: Any, required: bool = True) -> None:
        if not isinstance(tags, (list, tuple)) or (required and not tags):
            self.problems.append(
                Problem(key, "expected a non-empty list of tags.", 'e.g. ["tag:k8s"].')
            )
            return
        for index, tag in enumerate(tags):
            if not isinstance(tag, str) or not TAG_RE.match(tag):
                _check_tag(self.problems, f"{key}[{index}]", str(tag))

    def tag(self, key: str, tag: Any) -> None:
        if not isinstance(tag, str) or not TAG_RE.match(tag):
            _check_tag(self.problems, key, str(tag))

    def dns_label(self, key: str, value: Any) -> None:
        if not isinstance(value, str) or not DNS_LABEL_RE.match(value):
            self.problems.append(
                Problem(
                    key,
                    f"{_describe(value)} is not a DNS label.",
                    "use lower-case letters, digits and dashes, at most 63 "
                    "characters, starting and ending with a letter or digit.",
                )
            )

    def replicas(self, key: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.problems.append(
                Problem(
                    key,
                    f"must be a whole number of at least 1, got {_describe(value)}.",
                    "use 1 or more.",
                )
            )

    def one_of(self, key: str, value: Any, allowed: tuple[str, ...]) -> None:
        if value not in allowed:
            self.problems.append(
                Problem(
                    key,
                    f"{_describe(value)} is not allowed.",
                    "use one of " + ", ".join(f'"{a}"' for a in allowed) + ".",
                )
            )

