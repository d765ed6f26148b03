"""Compare a rendered operator chart with what a stack's plan intends. Pure: no helm here."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conformance.schema import crd_schema, validate

SECRET_TEXT = "[secret]"
UNKNOWN_TEXT = "[unknown]"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
# The files the operator reads its OAuth client from (env CLIENT_ID_FILE / CLIENT_SECRET_FILE).
CREDENTIAL_ENV = {"CLIENT_ID_FILE": "client_id", "CLIENT_SECRET_FILE": "client_secret"}
# The chart's ServiceAccount for kube-apiserver ProxyGroup pods (apiserverproxy-rbac.yaml).
PROXY_SERVICE_ACCOUNT = "kube-apiserver-auth-proxy"

PASS, FAIL, WARN, SKIP = "PASS", "FAIL", "WARN", "SKIP"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str = ""


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    chart: str
    version: str
    repository: str
    values: dict[str, Any]


@dataclass(frozen=True)
class StackPlan:
    stack: str
    releases: list[Release]
    manifests: list[dict[str, Any]]


def load_plan(stack: str, plan_dir: Path) -> StackPlan:
    """The Helm releases (resources.json) and Kubernetes objects (manifests.yaml) of a plan."""
    resources = json.loads((plan_dir / "resources.json").read_text())
    releases = []
    for resource in resources:
        if resource.get("type") != RELEASE_TYPE:
            continue
        inputs = resource.get("inputs") or {}
        releases.append(Release(
            name=str(inputs.get("name") or resource.get("name")),
            namespace=str(inputs.get("namespace") or "default"),
            chart=str(inputs.get("chart", "")),
            version=str(inputs.get("version", "")),
            repository=str((inputs.get("repositoryOpts") or {}).get("repo", "")),
            values=dict(inputs.get("values") or {})))
    manifests = [doc for doc in yaml.safe_load_all((plan_dir / "manifests.yaml").read_text())
                 if isinstance(doc, dict)]
    return StackPlan(stack=stack, releases=releases, manifests=manifests)


def render_values(values: Any) -> Any:
    """The values with the plan's placeholders replaced by dummies, for rendering only."""
    if isinstance(values, Mapping):
        return {key: render_values(value) for key, value in values.items()}
    if isinstance(values, list):
        return [render_values(value) for value in values]
    if values == SECRET_TEXT:
        return "dummy-secret-for-rendering"
    if values == UNKNOWN_TEXT:
        return "dummy-unknown-for-rendering"
    return values


def as_flag(value: Any) -> str:
    """A chart value as the string the templates compare ("true", "false", "noauth")."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def joined(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return "" if value is None else str(value)


def find(docs: Iterable[Mapping[str, Any]], kind: str, name: str | None = None
         ) -> list[Mapping[str, Any]]:
    return [doc for doc in docs if doc.get("kind") == kind
            and (name is None or (doc.get("metadata") or {}).get("name") == name)]


def _operator(docs: Sequence[Mapping[str, Any]]
              ) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """The Deployment and container that run the operator (the one with OPERATOR_HOSTNAME)."""
    for deployment in find(docs, "Deployment"):
        pod = deployment.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers") or []:
            if any(env.get("name") == "OPERATOR_HOSTNAME" for env in container.get("env") or []):
                return pod, container
    return None


def _env(container: Mapping[str, Any]) -> dict[str, Any]:
    return {env.get("name"): env.get("value", env.get("valueFrom"))
            for env in container.get("env") or []}


def _equal(name: str, actual: Any, expected: str) -> Check:
    if actual == expected:
        return Check(name, PASS, f"{expected!r}")
    return Check(name, FAIL, f"chart renders {actual!r}, the stack intends {expected!r}")


def check_operator(docs: Sequence[Mapping[str, Any]], release: Release,
                   manifests: Sequence[Mapping[str, Any]]) -> list[Check]:
    """The operator Deployment against the release values and the stack's own objects."""
    found = _operator(docs)
    if found is None:
        return [Check("operator Deployment", FAIL,
                      "no Deployment with an OPERATOR_HOSTNAME env in the rendered chart")]
    pod, container = found
    env = _env(container)
    values = release.values
    operator = values.get("operatorConfig") or {}
    proxy = values.get("proxyConfig") or {}
    api_proxy = values.get("apiServerProxyConfig") or {}
    checks = [Check("operator Deployment", PASS, "found")]
    checks += check_credentials(pod, container, env, release, manifests, docs)
    checks.append(_equal("APISERVER_PROXY = apiServerProxyConfig.mode", env.get("APISERVER_PROXY"),
                         as_flag(api_proxy.get("mode", "false"))))
    checks.append(_equal("OPERATOR_HOSTNAME = operatorConfig.hostname",
                         env.get("OPERATOR_HOSTNAME"), str(operator.get("hostname", ""))))
    checks.append(_equal("OPERATOR_INITIAL_TAGS = operatorConfig.defaultTags",
                         env.get("OPERATOR_INITIAL_TAGS"), joined(operator.get("defaultTags"))))
    checks.append(_equal("PROXY_TAGS = proxyConfig.defaultTags", env.get("PROXY_TAGS"),
                         joined(proxy.get("defaultTags"))))
    return checks


def _mount_path(container: Mapping[str, Any], volume: str) -> str | None:
    for mount in container.get("volumeMounts") or []:
        if mount.get("name") == volume:
            return str(mount.get("mountPath", ""))
    return None


def check_credentials(pod: Mapping[str, Any], container: Mapping[str, Any], env: Mapping[str, Any],
                      release: Release, manifests: Sequence[Mapping[str, Any]],
                      docs: Sequence[Mapping[str, Any]]) -> list[Check]:
    oauth = release.values.get("oauth") or {}
    if oauth.get("audience") and not release.values.get("oauthSecretVolume"):
        return _check_workload_identity(pod, container, env, oauth)
    name = "OAuth credentials mounted from the stack's Secret"
    secret_volume = release.values.get("oauthSecretVolume") or {}
    expected = (secret_volume.get("secret") or {}).get("secretName") or "operator-oauth"
    volumes = [v for v in pod.get("volumes") or []
               if (v.get("secret") or {}).get("secretName") == expected]
    if not volumes:
        seen = [(v.get("name"), (v.get("secret") or {}).get("secretName"))
                for v in pod.get("volumes") or []]
        return [Check(name, FAIL, f"no volume of Secret {expected!r}; volumes: {seen}")]
    volume = volumes[0]
    mount = _mount_path(container, str(volume.get("name")))
    if mount is None:
        return [Check(name, FAIL, f"volume {volume.get('name')!r} is not mounted in the operator")]
    checks = [Check(name, PASS, f"volume {volume.get('name')!r} of Secret {expected!r} at {mount}")]
    # Secret keys projected as files: by default each key is a file named like the key.
    items = {str(i.get("path")): str(i.get("key")) for i in volume["secret"].get("items") or []}
    wanted_keys = []
    for variable, default_file in CREDENTIAL_ENV.items():
        path = env.get(variable)
        label = f"{variable} points into the Secret mount"
        if not isinstance(path, str) or posixpath.dirname(path) != mount.rstrip("/"):
            checks.append(Check(label, FAIL, f"{variable}={path!r}, mount is {mount!r}"))
            continue
        file = posixpath.basename(path)
        key = items.get(file, file) if items else file
        checks.append(Check(label, PASS if file == default_file else WARN,
                            f"{path} (key {key!r})" if file == default_file else
                            f"{path}: the operator's file is usually {default_file!r}"))
        wanted_keys.append(key)
    checks.append(_check_secret_keys(expected, release.namespace, wanted_keys, manifests, docs,
                                     bool(oauth.get("clientSecret"))))
    return checks


def _check_secret_keys(secret_name: str, namespace: str, keys: Sequence[str],
                       manifests: Sequence[Mapping[str, Any]], docs: Sequence[Mapping[str, Any]],
                       chart_makes_it: bool) -> Check:
    label = f"Secret {namespace}/{secret_name} has the keys {', '.join(keys)}"
    candidates = [d for d in find(manifests, "Secret", secret_name)
                  if (d.get("metadata") or {}).get("namespace", namespace) == namespace]
    origin = "the stack"
    if not candidates and chart_makes_it:
        candidates, origin = list(find(docs, "Secret", secret_name)), "the chart"
    if not candidates:
        return Check(label, FAIL, "the stack does not create this Secret (manifests.yaml)")
    secret = candidates[0]
    present: set[str] = set()
    masked = []
    for field_name in ("data", "stringData"):
        content = secret.get(field_name)
        if isinstance(content, Mapping):
            present |= {str(key) for key in content}
        elif content is not None:
            masked.append(field_name)
    missing = [key for key in keys if key not in present]
    if not missing:
        return Check(label, PASS, f"made by {origin}")
    if masked:
        return Check(label, WARN, f"cannot tell: {origin}'s Secret has {'/'.join(masked)} "
                     f"masked as a whole ({SECRET_TEXT!r}) in the plan, so its keys are not shown")
    return Check(label, FAIL, f"missing {missing}; {origin}'s Secret has {sorted(present)}")


def _check_workload_identity(pod: Mapping[str, Any], container: Mapping[str, Any],
                             env: Mapping[str, Any], oauth: Mapping[str, Any]) -> list[Check]:
    # Values only `pulumi up` knows (the identity's generated audience and ID) were rendered
    # as dummies: compare with what the chart was given.
    rendered = render_values(oauth)
    audience = str(rendered.get("audience"))
    unknown = " (known only after `pulumi up`; rendered with a stand-in)"
    name = (f"projected serviceAccountToken with audience {audience!r}"
            + (unknown if oauth.get("audience") == UNKNOWN_TEXT else ""))
    volume_name = None
    for volume in pod.get("volumes") or []:
        for source in (volume.get("projected") or {}).get("sources") or []:
            token = source.get("serviceAccountToken") or {}
            if token and token.get("audience") == audience:
                volume_name = volume.get("name")
    if volume_name is None:
        return [Check(name, FAIL, "no projected serviceAccountToken volume with that audience")]
    mount = _mount_path(container, str(volume_name))
    checks = [Check(name, PASS if mount else FAIL,
                    f"volume {volume_name!r} at {mount}" if mount else
                    f"volume {volume_name!r} is not mounted in the operator")]
    checks.append(_equal("CLIENT_ID = oauth.clientId", env.get("CLIENT_ID"),
                         str(rendered.get("clientId", ""))))
    return checks


def _grants_impersonation(role: Mapping[str, Any]) -> bool:
    for rule in role.get("rules") or []:
        groups = rule.get("apiGroups") or []
        resources = set(rule.get("resources") or [])
        verbs = set(rule.get("verbs") or [])
        if ("" in groups or "*" in groups) and ({"users", "groups"} <= resources
                                                or "*" in resources) and (
                "impersonate" in verbs or "*" in verbs):
            return True
    return False


def impersonating_accounts(docs: Sequence[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """(namespace, name) of ServiceAccounts bound to a ClusterRole impersonating users/groups."""
    roles = {(r.get("metadata") or {}).get("name") for r in find(docs, "ClusterRole")
             if _grants_impersonation(r)}
    accounts = set()
    for binding in find(docs, "ClusterRoleBinding"):
        ref = binding.get("roleRef") or {}
        if ref.get("kind") != "ClusterRole" or ref.get("name") not in roles:
            continue
        for subject in binding.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount":
                accounts.add((str(subject.get("namespace")), str(subject.get("name"))))
    return accounts


def auth_proxy_groups(manifests: Sequence[Mapping[str, Any]]) -> list[str]:
    """kube-apiserver ProxyGroups serving in auth mode (the CRD's default mode)."""
    names = []
    for group in find(manifests, "ProxyGroup"):
        spec = group.get("spec") or {}
        if spec.get("type") == "kube-apiserver" and \
                (spec.get("kubeAPIServer") or {}).get("mode", "auth") == "auth":
            names.append(str((group.get("metadata") or {}).get("name")))
    return names


def check_impersonation(docs: Sequence[Mapping[str, Any]], release: Release,
                        manifests: Sequence[Mapping[str, Any]]) -> list[Check]:
    accounts = impersonating_accounts(docs)
    namespace = release.namespace
    checks = []
    groups = auth_proxy_groups(manifests)
    if groups:
        label = f"auth-mode ProxyGroup(s) {', '.join(groups)}: proxies may impersonate users/groups"
        impersonate = as_flag((release.values.get("apiServerProxyConfig") or {})
                              .get("allowImpersonation", "false"))
        account = (namespace, PROXY_SERVICE_ACCOUNT)
        has_account = any((d.get("metadata") or {}).get("name") == PROXY_SERVICE_ACCOUNT
                          for d in find(docs, "ServiceAccount"))
        if account in accounts and has_account:
            checks.append(Check(label, PASS, f"ServiceAccount {namespace}/{PROXY_SERVICE_ACCOUNT}"
                                " is bound to impersonate"))
        else:
            checks.append(Check(label, FAIL, "chart renders no impersonate grant for "
                                f"ServiceAccount {namespace}/{PROXY_SERVICE_ACCOUNT} "
                                f"(allowImpersonation={impersonate!r}); bound: {sorted(accounts)}"))
    mode = as_flag((release.values.get("apiServerProxyConfig") or {}).get("mode", "false"))
    if mode == "true":
        found = _operator(docs)
        account_name = str((found[0] if found else {}).get("serviceAccountName") or "default")
        label = "in-process API server proxy (mode \"true\"): operator may impersonate"
        checks.append(Check(label, PASS if (namespace, account_name) in accounts else FAIL,
                            f"ServiceAccount {namespace}/{account_name}"
                            + ("" if (namespace, account_name) in accounts
                               else f" not bound; bound: {sorted(accounts)}")))
    if not checks:
        checks.append(Check("impersonation RBAC", SKIP,
                            "no auth-mode API server proxy in this stack"))
    return checks


def crds_by_kind(docs: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """(group, kind) -> CustomResourceDefinition."""
    return {(str(crd["spec"].get("group")), str(crd["spec"].get("names", {}).get("kind"))): crd
            for crd in find(docs, "CustomResourceDefinition") if isinstance(crd.get("spec"), dict)}


def check_custom_resources(manifests: Sequence[Mapping[str, Any]],
                           crds: Mapping[tuple[str, str], Mapping[str, Any]], source: str,
                           kinds: Sequence[str] = ("ProxyGroup", "Recorder")) -> list[Check]:
    checks = []
    for obj in manifests:
        kind = str(obj.get("kind"))
        if kind not in kinds:
            continue
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        label = f"{kind} {(obj.get('metadata') or {}).get('name')} against the CRD ({source})"
        crd = crds.get((group, kind))
        if crd is None:
            checks.append(Check(label, SKIP if not crds else FAIL,
                                "no CRDs to check against" if not crds else
                                f"the chart's CRDs have no {kind} in {group}"))
            continue
        schema = crd_schema(crd, version)
        if schema is None:
            checks.append(Check(label, FAIL, f"the CRD has no version {version!r}"))
            continue
        findings = validate(obj, schema)
        extra = f"; {findings.cel_rules} CEL rule(s) evaluated"
        if findings.errors:
            checks.append(Check(label, FAIL, "; ".join(findings.errors) + extra))
        else:
            checks.append(Check(label, PASS, "schema valid" + extra))
        checks += [Check(f"{kind} CEL rule skipped", SKIP, note) for note in findings.skipped]
    return checks


def check_release(stack: StackPlan, release: Release, docs: Sequence[Mapping[str, Any]],
                  crd_docs: Sequence[Mapping[str, Any]], crd_source: str,
                  chart_version: str | None = None) -> list[Check]:
    """Every check of one rendered release. `docs`: `helm template` output."""
    checks = []
    if chart_version is not None:
        checks.append(Check("rendered chart version = pinned version",
                            PASS if chart_version == release.version else WARN,
                            chart_version if chart_version == release.version else
                            f"rendered {chart_version}, the stack pins {release.version}"))
    checks += check_operator(docs, release, stack.manifests)
    checks += check_impersonation(docs, release, stack.manifests)
    rendered_crds = crds_by_kind(docs)
    if rendered_crds:
        checks += check_custom_resources(stack.manifests, rendered_crds, "rendered with the chart")
    else:
        checks += check_custom_resources(stack.manifests, crds_by_kind(crd_docs), crd_source)
    return checks
