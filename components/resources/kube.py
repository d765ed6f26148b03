"""Tailscale custom resources with a readable `status` output."""

from typing import Any

import pulumi
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
# whose CRDs hold ProxyGroups and Recorders: a new namespace replaces the release (delete
# first), which deletes the CRDs and with them every ProxyGroup and Recorder, so these are
# replaced too (recreated after the new release), not left in the state as if they existed.
OPERATOR_NAMESPACE_ANNOTATION = "tailscale-cluster-access/operator-namespace"
DEVICE_REPLACE_ON_CHANGES = ("spec.tags",
                             f'metadata.annotations["{OPERATOR_NAMESPACE_ANNOTATION}"]')


def operator_namespace_annotation(namespace: str | None) -> dict[str, str]:
    return {OPERATOR_NAMESPACE_ANNOTATION: namespace} if namespace else {}
