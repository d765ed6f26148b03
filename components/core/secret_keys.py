"""The keys of the Kubernetes Secrets the components create (pure data, no Pulumi).

`pulumi_kubernetes` wraps a Secret's whole `stringData` in one secret, so a recorded run sees
neither its values (good) nor its keys. The keys are not secret and a reviewer needs them
(which credential goes where), so the components build their Secrets from these names and
the offline plan shows them, each value masked.
"""

OAUTH_SECRET_KEYS = ("client_id", "client_secret")
"""The operator's OAuth client Secret."""

S3_SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
"""The session recorder's static S3 credentials."""

SECRET_KEYS_BY_COMPONENT: dict[str, tuple[str, ...]] = {
    "tailscale-cluster-access:index:TailscaleOperator": OAUTH_SECRET_KEYS,
    "tailscale-cluster-access:index:SessionRecorder": S3_SECRET_KEYS,
}
"""Component type -> keys of the (one) Secret it creates as its direct child."""
