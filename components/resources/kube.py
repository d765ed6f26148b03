"""Tailscale custom resources with a readable `status` output."""

import copy
import math
import re
from typing import Any

import pulumi
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import monitor_supports_feature
from pulumi_kubernetes import _utilities as kubernetes_utilities

TAILSCALE_API_VERSION = "tailscale.com/v1alpha1"


def child_options(parent: pulumi.Resource, opts: pulumi.ResourceOptions | None,
                  **options: Any) -> pulumi.ResourceOptions:
    """Options of a component's child: `parent`, plus what Pulumi does not pass from a
    component to its children by itself: the component's `depends_on` (added to the child's
    own; a list, a resource or an Output of either), `retain_on_delete` and `custom_timeouts`
    (the child's own win). `protect` and `providers` flow through `parent`."""
    own = pulumi.ResourceOptions(depends_on=options.pop("depends_on", None))
    inherited: dict[str, Any] = {}
    if opts is not None:
        # merge concatenates the two lists, waiting for either where it is an Output.
        own = pulumi.ResourceOptions.merge(
            pulumi.ResourceOptions(depends_on=opts.depends_on), own)
        if opts.retain_on_delete is not None:
            inherited["retain_on_delete"] = opts.retain_on_delete
        if opts.custom_timeouts is not None:
            inherited["custom_timeouts"] = opts.custom_timeouts
    after = own.depends_on
    return pulumi.ResourceOptions(parent=parent, depends_on=after or None,
                                  **{**inherited, **options})


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                 "h": 3600.0}


def duration_seconds(text: str) -> int | None:
    """A custom timeout (Go duration syntax, e.g. `30m`, `1h30m`) in whole seconds, rounded
    up; None for an empty or malformed one (the engine reports a malformed one itself)."""
    parts = _DURATION_PART.findall(text)
    if not text or "".join(number + unit for number, unit in parts) != text:
        return None
    return math.ceil(sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts))


def helm_timeout(opts: pulumi.ResourceOptions | None) -> int | None:
    """The Release's own `timeout` (seconds; the provider's default is 300) from the longest of
    the `custom_timeouts` given: Helm waits that long for install, upgrade and uninstall
    (pulumi-kubernetes helm_release.go uses one timeout for all three), whatever the
    engine's timeouts say."""
    timeouts = opts.custom_timeouts if opts is not None else None
    if timeouts is None:
        return None
    given = [seconds for value in (timeouts.create, timeouts.update, timeouts.delete)
             if (seconds := duration_seconds(value or ""))]
    return max(given) if given else None


# The first CLI whose engine knows `replaceWith` (pulumi/pulumi#20693).
REPLACE_WITH_CLI = "3.207.0"


def take_replace_with(
        opts: pulumi.ResourceOptions | None,
) -> tuple[pulumi.ResourceOptions | None, list[pulumi.Resource]]:
    """A component's `replace_with`, moved to the object it manages: the component itself has
    nothing to replace (the engine would show it replaced)."""
    if opts is None or not opts.replace_with:
        return opts, []
    own = copy.copy(opts)
    own.replace_with = None
    return own, list(opts.replace_with)


def replace_with_options(resources: list[pulumi.Resource],
                         owner: pulumi.Resource) -> dict[str, Any]:
    """`replace_with`: when one of `resources` is replaced, the engine replaces this object
    too, and when that replace deletes first it deletes this object before it. CLIs before
    3.207.0 refuse the option; there the object is left to its own diff, with a warning."""
    if not resources:
        return {}
    if not monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_REPLACE_WITH):
        pulumi.log.warn(
            f"This Pulumi CLI does not support `replaceWith` (needs {REPLACE_WITH_CLI} or "
            "later): a change of `operator.namespace` would uninstall the operator while its "
            "ProxyGroup or Recorder still exists, and `pulumi up` would hang on their "
            "finalizers. Update the CLI before changing the namespace.", resource=owner)
        return {}
    return {"replace_with": resources}


class TailscaleCustomResource(pulumi.CustomResource):
    """A `tailscale.com/v1alpha1` object, registered like `apiextensions.CustomResource`.

    `apiextensions.CustomResource` exposes no `status`; declaring it here (as the typed
    Kubernetes resources do) lets the stack read `status.url` once the operator sets it.
    """

    status: pulumi.Output[Any]

    def __init__(
        self,
        resource_name: str,
        kind: str,
        metadata: dict[str, Any],
        spec: dict[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        version = kubernetes_utilities.get_version()  # type: ignore[no-untyped-call]
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(version=version))
        props = {
            "apiVersion": TAILSCALE_API_VERSION,
            "kind": kind,
            "metadata": metadata,
            "spec": spec,
            "status": None,
        }
        super().__init__(f"kubernetes:{TAILSCALE_API_VERSION}:{kind}", resource_name, props, opts)


# Tags apply only when devices are created. The operator's namespace names the Helm release
# whose CRDs hold ProxyGroups and Recorders: a new namespace replaces the release, so these are
# replaced too (recreated after the new release), not left in the state as if they existed.
# Only `replace_with=[release]` makes the engine delete them BEFORE the release's
# delete-first replace (while the operator still runs to clear their finalizers); the
# annotation keeps standalone components (no release given) replacing, as before.
OPERATOR_NAMESPACE_ANNOTATION = "tailscale-cluster-access/operator-namespace"
DEVICE_REPLACE_ON_CHANGES = ("spec.tags",
                             f'metadata.annotations["{OPERATOR_NAMESPACE_ANNOTATION}"]')


def operator_namespace_annotation(namespace: str | None) -> dict[str, str]:
    return {OPERATOR_NAMESPACE_ANNOTATION: namespace} if namespace else {}
