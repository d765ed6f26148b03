"""Facts of the tailscale-operator chart and of what it installs, by release: versions that
work and that do not, names it renders, limits its objects have. The spec and the components
read them from here."""

# Chart 1.88 fixed the ProxyGroup DNS bug (tailscale/tailscale#16920). The default was checked
# against the v1.102.3 chart values and CRDs (ProxyGroup, Recorder, ProxyClass; see the README).
DEFAULT_CHART_VERSION = "1.102.3"
MIN_CHART_VERSION = (1, 88, 0)
# Releases whose chart cannot run the operator the way this package installs it.
BROKEN_CHART_VERSIONS = {
    "1.92.3": "ignores oauthSecretVolume unless oauth.clientSecret is also set, and the operator "
    "then fails with 'CLIENT_ID_FILE and CLIENT_SECRET_FILE must be set' "
    "(tailscale/tailscale#18228, #18236; fixed by #18230).",
}
# Workload identity federation is broken in operator 1.98.0-1.98.3 (inclusive).
WORKLOAD_IDENTITY_BROKEN_CHART_VERSIONS = ((1, 98, 0), (1, 98, 3))
WORKLOAD_IDENTITY_BROKEN_REASON = (
    "breaks workload identity federation (tailscale/tailscale#19844, #19919; fixed in 1.98.4).")
# `enableEvents` on a grant (recording every API request) needs operator >= 1.94.1: before it
# only the proxy's environment (`TS_EXPERIMENTAL_KUBE_API_EVENTS`) turned events on
# (tailscale/tailscale#18393, cherry-picked to 1.94.1 as 77af25718; v1.94.0's
# `k8s-operator/api-proxy/proxy.go` has no `EnableEvents`).
MIN_CHART_VERSION_FOR_EVENTS = (1, 94, 1)

HELM_REPOSITORY = "https://pkgs.tailscale.com/helmcharts"
HELM_CHART = "tailscale-operator"

KUBERNETES_CAPABILITY = "tailscale.com/cap/kubernetes"
OAUTH_SCOPES = ("devices:core", "auth_keys", "services")

RANDOM_SUFFIX_LENGTH = 6
HOSTNAME_MAX = 63
# A ProxyGroup's name (its hostname here) names its StatefulSet; a StatefulSet name over 52
# characters cannot create pods: the controller-revision-hash label (name + "-" + 10-character
# hash) would exceed 63 (kubernetes#64023).
PROXY_GROUP_NAME_MAX = 52
PROXY_GROUP_NAME_REASON = (
    "a ProxyGroup's StatefulSet cannot create pods with a name over 52 characters (its "
    "controller-revision-hash label would exceed 63, kubernetes#64023)")
# Longest ProxyGroup hostname that still fits once "-<suffix>" is appended.
SUFFIXED_HOSTNAME_MAX = PROXY_GROUP_NAME_MAX - 1 - RANDOM_SUFFIX_LENGTH

# The Secret the operator's credentials are mounted from. Not the chart's own `operator-oauth`
# (rendered by templates/oauth-secret.yaml whenever `oauth.clientId` is set, see the chart's
# values.yaml): adopting a standard install, a later `helm upgrade` without `oauth.clientId`
# would delete that one under this stack.
OAUTH_SECRET_NAME = "tailscale-cluster-access-oauth"
# The Secret the chart renders itself from `oauth.clientId`/`oauth.clientSecret`.
CHART_OAUTH_SECRET_NAME = "operator-oauth"
# The ServiceAccount the operator chart runs the operator as.
OPERATOR_SERVICE_ACCOUNT = "operator"
# The ClusterRoleBinding that opens the issuer's discovery endpoints to anonymous callers.
DISCOVERY_BINDING_NAME = "oidc-discovery"
DISCOVERY_CLUSTER_ROLE = "system:service-account-issuer-discovery"
DISCOVERY_GROUP = "system:unauthenticated"
