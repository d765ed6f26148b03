"""Tailscale custom resources with a readable `status` output."""

import copy
from typing import Any

import pulumi
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import monitor_supports_feature
from pulumi_kubernetes import _utilities as kubernetes_utilities

TAILSCALE_API_VERSION = "tailscale.com/v1alpha1"


def depends_on_of(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource] | None:
    """The resources a component was told to wait for, for the children that must wait too
    (Pulumi does not pass a component's depends_on on to its children)."""
    if opts is None or opts.depends_on is None:
        return None
    if isinstance(opts.depends_on, pulumi.Resource):
        return [opts.depends_on]
    if not isinstance(opts.depends_on, list):
        return None
    return [dependency for dependency in opts.depends_on
            if isinstance(dependency, pulumi.Resource)]


def child_options(parent: pulumi.Resource, opts: pulumi.ResourceOptions | None,
                  **options: Any) -> pulumi.ResourceOptions:
    """Options of a component's child: `parent`, plus what Pulumi does not pass from a
    component to its children by itself: the component's `depends_on` (added to the child's
    own), `retain_on_delete` and `custom_timeouts` (the child's own win). `protect` and
    `providers` flow through `parent`."""
    own = list(options.pop("depends_on", None) or [])
    after = [*(depends_on_of(opts) or []), *own]
    inherited: dict[str, Any] = {}
    if opts is not None:
        if opts.retain_on_delete is not None:
            inherited["retain_on_delete"] = opts.retain_on_delete
        if opts.custom_timeouts is not None:
            inherited["custom_timeouts"] = opts.custom_timeouts
    return pulumi.ResourceOptions(parent=parent, depends_on=after or None,
                                  **{**inherited, **options})


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
