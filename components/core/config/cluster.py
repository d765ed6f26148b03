"""The cluster's devices: tags (and the tag scheme), the operator's installation, the API
server proxy and its hostnames."""

from collections.abc import Mapping
from typing import Any

from ..chart import (
    BROKEN_CHART_VERSIONS,
    MIN_CHART_VERSION,
    PROXY_GROUP_NAME_MAX,
    PROXY_GROUP_NAME_REASON,
    RANDOM_SUFFIX_LENGTH,
    SUFFIXED_HOSTNAME_MAX,
)
from ..identifiers import chart_version_tuple
from ..parts import ProxyEndpoint
from ..policy.sections import section
from ..problems import Problem
from ..spec import ClusterAccessSpec, ProxySettings
from .identities import as_set
from .reader import SpecReader, join, quoted


def check_tags(spec: ClusterAccessSpec) -> list[Problem]:
    """The operator, the proxies and the recorder must be told apart by their tags."""
    named = {"operator": spec.tags.operator, "proxy": spec.tags.proxy,
             "recorder": spec.tags.recorder, "proxyGroup": spec.tags.proxy_group}
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for role, tag in named.items():
        # tags.proxyGroup equal to tags.proxy is allowed, with a warning (see the plan).
        if tag in seen and {role, seen[tag]} != {"proxy", "proxyGroup"}:
            problems.append(Problem(f"tags.{role}", f'"{tag}" is also tags.{seen[tag]}.',
                                    "give the operator, the proxies and the recorder distinct "
                                    "tags so that the policy can tell them apart."))
        seen.setdefault(tag, role)
    return problems


def check_chart_version(reader: SpecReader, key: str, version: str) -> None:
    parsed = chart_version_tuple(version)
    if parsed is None:
        reader.problem(key, f"{quoted(version)} is not a chart version.",
                       'pin an exact release such as "1.102.3" (published chart versions equal '
                       "Tailscale releases).")
    elif parsed < MIN_CHART_VERSION:
        reader.problem(key, f"{quoted(version)} is too old.",
                       "use 1.88.0 or newer (the kube-apiserver ProxyGroup DNS fix, "
                       "tailscale/tailscale#16920).")
    elif version in BROKEN_CHART_VERSIONS:
        reader.problem(key, f"{quoted(version)} {BROKEN_CHART_VERSIONS[version]}",
                       'use "1.92.4" or newer.')


def check_proxy(reader: SpecReader, proxy: ProxySettings, path: str,
                given: frozenset[str]) -> None:
    if proxy.mode == "noauth" and not proxy.acknowledge_noauth:
        reader.problem(join(path, "mode"),
                       "noauth passes every request to the API server without impersonation, "
                       "so the grants in this stack would not limit what callers can do.",
                       "keep mode auth, or set proxy.acknowledgeNoauth: true if another "
                       "authenticating proxy sits behind it.")
    if proxy.high_availability:
        return
    ha_only = {"hostname": "set proxy.highAvailability: true, or name the in-process proxy "
                           "with operator.hostname.",
               "replicas": "set proxy.highAvailability: true or remove proxy.replicas.",
               "hostnameSuffix": "set proxy.highAvailability: true, or give each stack its own "
                                 "operator.hostname."}
    for name, fix in ha_only.items():
        is_set = (proxy.hostname_suffix == "random" if name == "hostnameSuffix"
                  else name in given)
        if is_set:
            reader.problem(join(path, name), "only applies to the high-availability ProxyGroup.",
                           fix)


def proxy_group_name_problem(key: str, hostname: str, suffixed: bool,
                             shorter: str = "") -> Problem | None:
    """The ProxyGroup name (its hostname) must stay within 52 characters, suffix included."""
    limit = SUFFIXED_HOSTNAME_MAX if suffixed else PROXY_GROUP_NAME_MAX
    if len(hostname) <= limit:
        return None
    extra = (f"; with a random hostname suffix it gets {RANDOM_SUFFIX_LENGTH + 1} more"
             if suffixed else "")
    return Problem(key, f'"{hostname}" is {len(hostname)} characters{extra}, and '
                   f"{PROXY_GROUP_NAME_REASON}.",
                   f"use at most {limit} characters" + (f", {shorter}." if shorter else "."))


def check_hostnames(spec: ClusterAccessSpec) -> list[Problem]:
    if not spec.proxy.high_availability:
        return []
    problem = proxy_group_name_problem(
        "proxy.hostname" if spec.proxy.hostname else "cluster", spec.proxy_group_hostname,
        spec.proxy.hostname_suffix == "random",
        "" if spec.proxy.hostname else "or set a shorter proxy.hostname")
    return [problem] if problem else []


def check_proxy_endpoint(reader: SpecReader, proxy: ProxyEndpoint, path: str,
                         given: frozenset[str]) -> None:
    if not proxy.high_availability:
        return
    if "tags" in given and not proxy.tags:
        reader.problem(join(path, "tags"), "must not be empty.", 'e.g. ["tag:k8s"].')
    problem = proxy_group_name_problem(join(path, "hostname"), proxy.hostname,
                                       proxy.hostname_suffix == "random")
    if problem:
        reader.problems.append(problem)


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
