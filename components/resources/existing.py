"""When the operator's fixed-name objects already exist in the cluster (another installation of
the operator, or a stack whose state was lost): say exactly what exists and how to adopt it.

The namespace, this package's OAuth Secret and the `tailscale-operator` Helm release have fixed
names, so a create fails with "already exists" / "cannot re-use a name". An error hook on each
turns that into a message naming the object and the `pulumi import` command that adopts it.
A release installed the standard way holds `oauth.clientSecret` in its values: importing it
as it is would copy that secret into the state in plain text, so its message says how to take
the secret out of the release first.
"""

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.resource_hooks import ErrorHook, ErrorHookArgs, ResourceHookBinding
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import monitor_supports_feature

from ..core.chart import CHART_OAUTH_SECRET_NAME, HELM_REPOSITORY, OAUTH_SECRET_NAME

_CLASH_MARKERS = ("already exists", "cannot re-use a name", "still in use")


def _object_id(type_token: str, inputs: Mapping[str, Any]) -> str:
    """The ID `pulumi import` takes: `name` (Namespace) or `namespace/name`."""
    raw = inputs.get("metadata")
    metadata: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    name = str(inputs.get("name") or metadata.get("name") or "?")
    namespace = inputs.get("namespace") or metadata.get("namespace")
    if type_token == "kubernetes:core/v1:Namespace" or not namespace:
        return name
    return f"{namespace}/{name}"


RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"


def _release_secret_help(inputs: Mapping[str, Any]) -> str:
    """Before importing a release: take the OAuth secret out of its values."""
    namespace = str(inputs.get("namespace") or "<namespace>")
    version = str(inputs.get("version") or "<operator.chartVersion>")
    values = inputs.get("values")
    command = [f"helm -n {namespace} upgrade tailscale-operator tailscale-operator",
               f"--repo {HELM_REPOSITORY} --version {version} --reuse-values",
               "--set oauth.clientSecret=null"]
    if isinstance(values, Mapping) and "oauthSecretVolume" in values:
        command += ["--set oauth.clientId=null", "--set-json 'oauthSecretVolume="
                    f'{{"secret":{{"secretName":"{OAUTH_SECRET_NAME}"}}}}\'']
        effect = (f"the operator then reads the Secret {OAUTH_SECRET_NAME} this update "
                  f"created, and Helm deletes the chart's own {CHART_OAUTH_SECRET_NAME}, which "
                  "this stack does not use")
    else:
        effect = "with workload identity the operator needs no secret"
    return (f"First check its values (`helm -n {namespace} get values tailscale-operator`): a "
            "release installed the standard way holds oauth.clientSecret, and importing it as "
            "it is copies that secret into the Pulumi state in plain text. Take it out of the "
            f"release first: `{' '.join(command)}` ({effect}), check `helm get values` again, "
            "then import. ")


def existing_object_help(args: ErrorHookArgs) -> str:
    inputs = args.new_inputs or {}
    object_id = _object_id(args.type, inputs)
    before = _release_secret_help(inputs) if args.type == RELEASE_TYPE else ""
    return (f"{args.type} {object_id!r} already exists in the cluster (another installation "
            "of the Tailscale operator, or a stack whose state was lost). Nothing was changed. "
            f"{before}Adopt it: `pulumi import '{args.type}' '{args.name}' '{object_id}' "
            "--parent <URN of its component, `pulumi stack --show-urns`>` and preview again; "
            "or remove the other installation first (`helm -n <namespace> uninstall "
            "tailscale-operator`). See the README runbook \"Recover after a lost state "
            "file\".")


def explain_existing_object(args: ErrorHookArgs) -> bool:
    """Error hook: explain a create refused because the object exists. Never retries."""
    if args.failed_operation == "create" and any(
            marker in error.lower() for error in args.errors for marker in _CLASH_MARKERS):
        pulumi.log.error(existing_object_help(args))
    return False


def existing_object_hooks(name: str) -> ResourceHookBinding | None:
    """The explaining hook where the CLI supports error hooks (older CLIs refuse them)."""
    if not monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_ERROR_HOOKS):
        return None
    return ResourceHookBinding(on_error=[ErrorHook(f"{name}-explain-existing",
                                                   explain_existing_object)])
