"""The cluster's devices: tags (and the tag scheme), the operator's installation, the API
server proxy and its hostnames."""

from collections.abc import Mapping
from typing import Any

from ..identifiers import DNS_LABEL, TAG, chart_version_tuple
from ..policy.sections import section
from ..problems import Problem
from ..spec import (
    BROKEN_CHART_VERSIONS,
    MIN_CHART_VERSION,
    PROXY_GROUP_NAME_MAX,
    PROXY_GROUP_NAME_REASON,
    RANDOM_SUFFIX_LENGTH,
    SUFFIXED_HOSTNAME_MAX,
    ClusterAccessSpec,
    HostnameSuffix,
    OperatorSettings,
    ProxySettings,
    Tags,
    TagScheme,
)
from .identities import as_set
from .reader import ConfigReader


def read_tags(reader: ConfigReader, defaults: Tags | None = None) -> Tags:
    problems = reader.problems
    fix = 'tags look like "tag:k8s-operator".'
    defaults = defaults or Tags()
    tags = Tags(
        operator=reader.string("operator", defaults.operator, TAG, fix),
        proxy=reader.string("proxy", defaults.proxy, TAG, fix),
        recorder=reader.string("recorder", defaults.recorder, TAG, fix),
        proxy_group=reader.string("proxyGroup", defaults.proxy_group, TAG, fix),
    )
    reader.finish()
    named = {"operator": tags.operator, "proxy": tags.proxy, "recorder": tags.recorder,
             "proxyGroup": tags.proxy_group}
    seen: dict[str, str] = {}
    for role, tag in named.items():
        # tags.proxyGroup equal to tags.proxy is allowed, with a warning (see the plan).
        if tag in seen and {role, seen[tag]} != {"proxy", "proxyGroup"}:
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


def read_operator(reader: ConfigReader) -> OperatorSettings:
    namespace = reader.string(
        "namespace",
        OperatorSettings.namespace,
        DNS_LABEL,
        "a namespace is a DNS label: lower-case letters, digits and dashes.",
    )
    chart_version = reader.string("chartVersion", OperatorSettings.chart_version)
    hostname = reader.string(
        "hostname",
        OperatorSettings.hostname,
        DNS_LABEL,
        "a tailnet hostname is a DNS label: lower-case letters, digits and "
        "dashes, at most 63 characters.",
    )
    reader.finish()
    parsed = chart_version_tuple(chart_version)
    if parsed is None:
        reader.problem(
            reader.key("chartVersion"),
            f'"{chart_version}" is not a chart version.',
            'pin an exact release such as "1.102.3" (published chart versions equal '
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


def read_proxy(reader: ConfigReader) -> ProxySettings:
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
            DNS_LABEL,
            "the ProxyGroup hostname is a DNS label: lower-case letters, digits "
            "and dashes, at most 63 characters.",
        ),
        acknowledge_noauth=reader.boolean("acknowledgeNoauth", False),
        hostname_suffix=read_hostname_suffix(reader),
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


def read_hostname_suffix(reader: ConfigReader) -> HostnameSuffix:
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


def read_tag_scheme(reader: ConfigReader) -> TagScheme:
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



def check_hostnames(spec: ClusterAccessSpec) -> list[Problem]:
    """The ProxyGroup name (its hostname) must stay within 52 characters, suffix included."""
    hostname = spec.proxy_group_hostname
    if not spec.proxy.high_availability:
        return []
    suffixed = bool(spec.proxy.hostname_suffix)
    limit = SUFFIXED_HOSTNAME_MAX if suffixed else PROXY_GROUP_NAME_MAX
    if len(hostname) <= limit:
        return []
    extra = (f"; with proxy.hostnameSuffix: random it gets {RANDOM_SUFFIX_LENGTH + 1} more"
             if suffixed else "")
    return [Problem("proxy.hostname" if spec.proxy.hostname else "cluster",
                    f'"{hostname}" is {len(hostname)} characters{extra}, and '
                    f"{PROXY_GROUP_NAME_REASON}.",
                    f"use at most {limit} characters"
                    + ("." if spec.proxy.hostname else ", or set a shorter proxy.hostname."))]


def check_tag_owners(spec: ClusterAccessSpec, base: Mapping[str, Any]) -> list[Problem]:
    """The operator must own the tags it puts on its proxies and recorder."""
    owner_map = section(base, "tagOwners")
    if not isinstance(owner_map, Mapping):
        return []
    problems: list[Problem] = []
    roles = [("proxy", spec.tags.proxy), ("recorder", spec.tags.recorder)]
    if spec.proxy.high_availability and spec.tags.proxy_group != spec.tags.proxy:
        roles.append(("proxyGroup", spec.tags.proxy_group))
    for role, tag in roles:
        if role == "recorder" and not spec.session_recording.enabled:
            continue
        owners = owner_map.get(tag)
        if owners is not None and spec.tags.operator not in as_set(owners):
            problems.append(Problem(f"tags.{role}",
                                    f'the base policy lets {owners} own "{tag}", but the '
                                    f'operator ("{spec.tags.operator}") must own it to tag its '
                                    "devices.",
                                    f'add "{spec.tags.operator}" to tagOwners["{tag}"] in the '
                                    "base policy, or choose another tag."))
    return problems
