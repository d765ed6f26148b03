"""Rules for every stack that uses the tailscale-cluster-access components (all mandatory but
`operator-credentials-not-static`, advisory unless a stack's policy-pack config makes it
mandatory: `{"operator-credentials-not-static": "mandatory"}`).

The rules read resource inputs as `pulumi preview --policy-pack policy-pack` sees them:
the operator's Helm release (`values`), the `ProxyGroup` and `Recorder` custom resources,
ClusterRoleBindings, and the tailnet policy file written by `tailscale.Acl` (`acl`, HuJSON).

Values that are unknown during a preview (provider outputs) are read from the raw inputs,
never through the SDK's unknown-checking proxy, so one unknown value does not switch a
whole stack rule off; a rule that needs a value it cannot know yet checks it at `pulumi up`.

This module only defines policies; `__main__.py` builds the PolicyPack (constructing it
starts the analyzer server and blocks).
"""

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import proxy as unknowns
from tailscale_cluster_access.core.chart import HELM_CHART, KUBERNETES_CAPABILITY
from tailscale_cluster_access.core.config import is_broad_source
from tailscale_cluster_access.core.policy import hujson
from tailscale_cluster_access.core.policy.sections import section
from tailscale_cluster_access.core.spec import ADMIN_CLUSTER_ROLES, BUILTIN_GROUP_ROLES

ACL = "tailscale:index/acl:Acl"
OAUTH_CLIENT = "tailscale:index/oauthClient:OauthClient"
HELM_RELEASES = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"})
PROXY_GROUP = "kubernetes:tailscale.com/v1alpha1:ProxyGroup"
RECORDER = "kubernetes:tailscale.com/v1alpha1:Recorder"
CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
KUBERNETES_SECRET = "kubernetes:core/v1:Secret"

# Chart and CRD defaults (operator chart values.yaml; ProxyGroup/Recorder `spec.tags`).
DEFAULT_OPERATOR_TAGS = ("tag:k8s-operator",)
DEFAULT_DEVICE_TAGS = ("tag:k8s",)
# Tailscale's documented prefix of OAuth client secrets.
OAUTH_SECRET_PREFIX = "tskey-client-"
ALLOW_NOAUTH = "allowNoauth"
AUTH_MODE_POLICY = "api-server-proxy-auth-mode"

_SENTINELS = frozenset({
    unknowns.UNKNOWN_BOOLEAN_VALUE, unknowns.UNKNOWN_NUMBER_VALUE, unknowns.UNKNOWN_STRING_VALUE,
    unknowns.UNKNOWN_ARRAY_VALUE, unknowns.UNKNOWN_ASSET_VALUE, unknowns.UNKNOWN_ARCHIVE_VALUE,
    unknowns.UNKNOWN_OBJECT_VALUE,
})


class _Unknown:
    def __repr__(self) -> str:
        return "<unknown during preview>"


UNKNOWN: Any = _Unknown()


def plain(value: Any) -> Any:
    """Resource inputs as plain dicts and lists; preview-unknown values become UNKNOWN."""
    if isinstance(value, Mapping) and not isinstance(value, dict):
        try:
            # The SDK's unknown-checking proxies hand out their target under this key.
            value = value["__target"]
        except (KeyError, unknowns.UnknownValueError):
            value = {key: value[key] for key in value}
    elif isinstance(value, Sequence) and not isinstance(value, (str, list, tuple)):
        try:
            value = value["__target"]  # type: ignore[call-overload]
        except (KeyError, TypeError, IndexError):
            value = list(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, str) and value in _SENTINELS:
        return UNKNOWN
    return value


def dig(value: Any, *path: str) -> Any:
    """`value[path...]`, or None where a level is missing; UNKNOWN where a level is unknown."""
    for key in path:
        if value is UNKNOWN:
            return UNKNOWN
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def is_tailscale_operator_chart(resource_type: str, props: dict[str, Any]) -> bool:
    if resource_type not in HELM_RELEASES:
        return False
    chart = props.get("chart")
    return isinstance(chart, str) and chart.rstrip("/").split("/")[-1] == HELM_CHART


def _as_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


# --- 1. auth mode unless acknowledged -----------------------------------------------------


def noauth_problem(resource_type: str, props: dict[str, Any]) -> str | None:
    """Why this resource runs an API server proxy in noauth mode, or None."""
    if is_tailscale_operator_chart(resource_type, props):
        mode = dig(props, "values", "apiServerProxyConfig", "mode")
        if isinstance(mode, str) and mode.strip().lower() == "noauth":
            return ("the tailscale-operator Helm release sets apiServerProxyConfig.mode: "
                    '"noauth"')
    if resource_type == PROXY_GROUP:
        mode = dig(props, "spec", "kubeAPIServer", "mode")
        if isinstance(mode, str) and mode.strip().lower() == "noauth":
            name = dig(props, "metadata", "name")
            label = f"ProxyGroup {name}" if isinstance(name, str) else "a ProxyGroup"
            return f"{label} sets spec.kubeAPIServer.mode: noauth"
    return None


def validate_auth_mode(args: ResourceValidationArgs, report: ReportViolation) -> None:
    problem = noauth_problem(args.resource_type, plain(args.props))
    if problem is None or args.get_config().get(ALLOW_NOAUTH) is True:
        return
    report(f"{problem[:1].upper()}{problem[1:]}: the proxy forwards requests to the "
           "Kubernetes API server without impersonating the caller, so tailnet grants no "
           "longer limit what a caller can do. "
           'Use auth mode (proxy.mode: "auth"), or, if another authenticating proxy stands '
           "behind it, acknowledge it for this stack with the policy config "
           f'{{"{AUTH_MODE_POLICY}": {{"{ALLOW_NOAUTH}": true}}}} '
           "(pulumi preview --policy-pack policy-pack --policy-pack-config <file>).", None)


AUTH_MODE = ResourceValidationPolicy(
    name=AUTH_MODE_POLICY,
    description="The Kubernetes API server proxy (in-process or ProxyGroup) runs in auth mode "
                "unless the stack's policy config sets allowNoauth.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_auth_mode,
    config_schema=PolicyConfigSchema(properties={ALLOW_NOAUTH: {
        "type": "boolean", "default": False,
        "description": "Acknowledge a noauth API server proxy: another authenticating proxy "
                       "stands behind it."}}),
)


# --- the tailnet policy file and its kubernetes grants ------------------------------------


class StackView:
    """The stack's resources as plain inputs, grouped by type."""

    def __init__(self, resources: Sequence[PolicyResource]) -> None:
        self.resources = [(r, plain(r.props)) for r in resources]

    def of_type(self, *types: str) -> Iterator[tuple[PolicyResource, dict[str, Any]]]:
        return ((r, props) for r, props in self.resources if r.resource_type in types)

    def operator_releases(self) -> Iterator[tuple[PolicyResource, dict[str, Any]]]:
        return ((r, props) for r, props in self.resources
                if is_tailscale_operator_chart(r.resource_type, props))

    def policies(self, report: ReportViolation
                 ) -> Iterator[tuple[PolicyResource, dict[str, Any]]]:
        """Each Acl's parsed policy; unknown ones are skipped, unparsable ones reported."""
        for resource, props in self.of_type(ACL):
            text = props.get("acl")
            if not isinstance(text, str):
                continue
            try:
                yield resource, hujson.parse(text, f"{resource.name} acl").data
            except hujson.HujsonError as error:
                report(f"The tailnet policy of {resource.name} is not valid HuJSON: {error}",
                       resource.urn)


def kubernetes_capabilities(policy: dict[str, Any]
                            ) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
    """(grant index, grant, capability) for every tailscale.com/cap/kubernetes entry."""
    for index, grant in enumerate(section(policy, "grants") or []):
        if not isinstance(grant, dict):
            continue
        app = grant.get("app")
        entries = app.get(KUBERNETES_CAPABILITY) if isinstance(app, dict) else None
        for capability in entries if isinstance(entries, list) else []:
            if isinstance(capability, dict):
                yield index, grant, capability


def impersonated_groups(capability: dict[str, Any]) -> list[str]:
    return _as_strings(dig(capability, "impersonate", "groups"))


def describe_grant(index: int, grant: dict[str, Any]) -> str:
    return f"grants[{index}] (src {', '.join(_as_strings(grant.get('src'))) or '-'})"


# --- 2. no cluster-admin for broad sources ------------------------------------------------


def admin_groups(stack: StackView) -> dict[str, str]:
    """Kubernetes group -> how it gets cluster-admin (built in, or a binding in this stack)."""
    groups = {group: f"{group} is bound to {role} in every cluster"
              for group, role in BUILTIN_GROUP_ROLES.items() if role in ADMIN_CLUSTER_ROLES}
    for resource, props in stack.of_type(CLUSTER_ROLE_BINDING):
        role_ref = props.get("roleRef")
        if not isinstance(role_ref, dict) or role_ref.get("kind") != "ClusterRole":
            continue
        if role_ref.get("name") not in ADMIN_CLUSTER_ROLES:
            continue
        for subject in props.get("subjects") or []:
            if isinstance(subject, dict) and subject.get("kind") == "Group":
                name = subject.get("name")
                if isinstance(name, str) and name not in groups:
                    groups[name] = (f"ClusterRoleBinding {resource.name} binds {name} to "
                                    f"{role_ref.get('name')}")
    return groups


def validate_no_broad_admin(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = StackView(args.resources)
    admins = admin_groups(stack)
    for resource, policy in stack.policies(report):
        for index, grant, capability in kubernetes_capabilities(policy):
            broad = [src for src in _as_strings(grant.get("src")) if is_broad_source(src)]
            granted = [group for group in impersonated_groups(capability) if group in admins]
            if broad and granted:
                report(f"{describe_grant(index, grant)} lets the broad source(s) "
                       f"{', '.join(broad)} impersonate {', '.join(granted)} "
                       f"({'; '.join(admins[g] for g in granted)}): everyone they cover gets "
                       "cluster-admin. Grant admin to a specific group instead.", resource.urn)


NO_BROAD_ADMIN = StackValidationPolicy(
    name="no-cluster-admin-for-broad-sources",
    description="No kubernetes grant lets *, autogroup:member, autogroup:tagged, "
                "autogroup:shared or *@domain impersonate a group with cluster-admin.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_no_broad_admin,
)


# --- 3. session recording enforced where the stack records ----------------------------------


def validate_recording_enforced(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = StackView(args.resources)
    recorders = [resource.name for resource, _ in stack.of_type(RECORDER)]
    if not recorders:
        return
    for resource, policy in stack.policies(report):
        for index, grant, capability in kubernetes_capabilities(policy):
            recorder = _as_strings(capability.get("recorder"))
            if recorder and capability.get("enforceRecorder") is not True:
                report(f"{describe_grant(index, grant)} records sessions to "
                       f"{', '.join(recorder)} but does not set \"enforceRecorder\": true, so "
                       "sessions go unrecorded whenever the recorder is unreachable (this stack "
                       f"deploys a Recorder: {', '.join(recorders)}). Set "
                       "sessionRecording.enforce: true.", resource.urn)


RECORDING_ENFORCED = StackValidationPolicy(
    name="session-recording-enforced",
    description="In a stack that deploys a Recorder, every kubernetes grant that names a "
                "recorder sets enforceRecorder: true (fail closed).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_recording_enforced,
)


# --- 4. the OAuth client secret only in Kubernetes Secrets --------------------------------


def helm_oauth_problems(props: dict[str, Any]) -> list[str]:
    values = props.get("values")
    values = values if isinstance(values, dict) else {}
    problems: list[str] = []
    client_secret = dig(values, "oauth", "clientSecret")
    if client_secret is UNKNOWN or (isinstance(client_secret, str) and client_secret.strip()):
        problems.append("sets oauth.clientSecret: the OAuth client secret becomes a Helm value, "
                        "stored in the release and readable with `helm get values`")
    volume = values.get("oauthSecretVolume")
    audience = dig(values, "oauth", "audience")
    # Workload identity: the audience may be Tailscale's generated one, unknown at preview.
    if not volume and not (audience is UNKNOWN or (isinstance(audience, str) and audience)):
        problems.append("has no oauthSecretVolume: mount the credentials from a Kubernetes "
                        'Secret ({"secret": {"secretName": "operator-oauth"}}) or use '
                        "oauth.audience (workload identity)")
    return problems


def validate_helm_oauth(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = plain(args.props)
    if not is_tailscale_operator_chart(args.resource_type, props):
        return
    for problem in helm_oauth_problems(props):
        report(f"The tailscale-operator Helm release {problem}.", None)


HELM_OAUTH = ResourceValidationPolicy(
    name="operator-oauth-secret-from-kubernetes-secret",
    description="The tailscale-operator Helm release takes its OAuth credentials from "
                "oauthSecretVolume (a Kubernetes Secret) or uses workload identity "
                "(oauth.clientId + oauth.audience), never oauth.clientSecret.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_helm_oauth,
)


def string_paths(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path or "(value)", value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from string_paths(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from string_paths(item, f"{path}[{index}]")


def _may_hold_the_secret(resource: PolicyResource) -> bool:
    # The client itself (its `key` output), Kubernetes Secrets, and provider configuration
    # (the provider's own credentials) are where a client secret belongs.
    return (resource.resource_type in (OAUTH_CLIENT, KUBERNETES_SECRET)
            or resource.resource_type.startswith("pulumi:providers:"))


def validate_oauth_secret_placement(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = StackView(args.resources)
    secrets = {props.get("key") for _, props in stack.of_type(OAUTH_CLIENT)}
    known = {value for value in secrets if isinstance(value, str) and value}
    for resource, props in stack.resources:
        if _may_hold_the_secret(resource):
            continue
        for path, value in string_paths(props):
            if value in known or value.startswith(OAUTH_SECRET_PREFIX):
                report(f"{resource.resource_type} {resource.name} holds an OAuth client secret "
                       f"in {path}. Keep it in a kubernetes:core/v1:Secret (and mount it, e.g. "
                       "with the chart's oauthSecretVolume) and pass it around only as a Pulumi "
                       "secret.", resource.urn)


OAUTH_SECRET_PLACEMENT = StackValidationPolicy(
    name="oauth-secret-only-in-kubernetes-secrets",
    description="No resource other than a Kubernetes Secret (and the OAuth client itself) "
                "holds the OAuth client secret (the client's key, or any tskey-client-... "
                "value).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_oauth_secret_placement,
)


# --- 4b. workload identity instead of a stored secret (advisory) -------------------------

CREDENTIALS_NOT_STATIC_POLICY = "operator-credentials-not-static"


def uses_workload_identity(props: dict[str, Any]) -> bool:
    """oauth.audience set (or computed: Tailscale's generated audience) and no client secret."""
    audience = dig(props, "values", "oauth", "audience")
    secret = dig(props, "values", "oauth", "clientSecret")
    return ((audience is UNKNOWN or (isinstance(audience, str) and bool(audience.strip())))
            and not (secret is UNKNOWN or (isinstance(secret, str) and secret.strip())))


def validate_credentials_not_static(args: ResourceValidationArgs,
                                    report: ReportViolation) -> None:
    props = plain(args.props)
    if args.resource_type == OAUTH_CLIENT:
        report("The stack creates a tailscale.OauthClient: its secret is a long-lived "
               "credential. Use workload identity (oauth.workloadIdentity.issuer) so that no "
               "secret is stored.", None)
    elif is_tailscale_operator_chart(args.resource_type, props) and not \
            uses_workload_identity(props):
        report("The tailscale-operator Helm release authenticates with a stored OAuth client "
               "secret (oauthSecretVolume or oauth.clientSecret). Use workload identity "
               "(oauth.workloadIdentity.issuer: the cluster's OIDC issuer): the operator then "
               "exchanges its ServiceAccount token and no secret exists.", None)


CREDENTIALS_NOT_STATIC = ResourceValidationPolicy(
    name=CREDENTIALS_NOT_STATIC_POLICY,
    description="The operator uses workload identity, not a stored OAuth client secret "
                "(advisory; a stack's policy-pack config may make it mandatory).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=validate_credentials_not_static,
)


# --- 5. ProxyGroup and Recorder tags owned by the operator ---------------------------------


def operator_tags(stack: StackView) -> list[str]:
    tags: list[str] = []
    for _, props in stack.operator_releases():
        configured = dig(props, "values", "operatorConfig", "defaultTags")
        for tag in _as_strings(configured) or list(DEFAULT_OPERATOR_TAGS):
            if tag not in tags:
                tags.append(tag)
    return tags


def validate_tags_owned_by_operator(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = StackView(args.resources)
    devices = list(stack.of_type(PROXY_GROUP, RECORDER))
    if not devices:
        return
    owners: dict[str, list[str]] = {}
    policies = list(stack.policies(lambda message, urn: None))
    if not policies:
        return  # The policy file is managed elsewhere; nothing here to join against.
    for _, policy in policies:
        tag_owners = section(policy, "tagOwners")
        for tag, tag_owner_list in (tag_owners.items() if isinstance(tag_owners, dict) else []):
            owners.setdefault(tag, []).extend(_as_strings(tag_owner_list))
    operators = operator_tags(stack) or list(DEFAULT_OPERATOR_TAGS)
    for resource, props in devices:
        kind = resource.resource_type.rsplit(":", 1)[-1]
        tags = dig(props, "spec", "tags")
        if tags is UNKNOWN:
            continue
        for tag in _as_strings(tags) or list(DEFAULT_DEVICE_TAGS):
            if not any(operator in owners.get(tag, []) for operator in operators):
                current = owners.get(tag)
                report(f"{kind} {resource.name} is tagged {tag}, but the tailnet policy's "
                       f"tagOwners do not let the operator ({', '.join(operators)}) apply it "
                       f"(owners: {current if current is not None else 'tag not defined'}); the "
                       f"operator cannot create its devices. Add \"{tag}\": "
                       f"[\"{operators[0]}\"] to tagOwners.", resource.urn)


TAGS_OWNED_BY_OPERATOR = StackValidationPolicy(
    name="proxy-and-recorder-tags-owned-by-operator",
    description="Every ProxyGroup and Recorder tag is owned by the operator's tag in the "
                "stack's tailnet policy (tagOwners).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_tags_owned_by_operator,
)


RESOURCE_POLICIES: list[ResourceValidationPolicy] = [AUTH_MODE, HELM_OAUTH, CREDENTIALS_NOT_STATIC]
STACK_POLICIES: list[StackValidationPolicy] = [
    NO_BROAD_ADMIN, RECORDING_ENFORCED, OAUTH_SECRET_PLACEMENT, TAGS_OWNED_BY_OPERATOR]
POLICIES: list[Policy] = [
    *RESOURCE_POLICIES, *STACK_POLICIES]
