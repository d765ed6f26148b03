"""SessionRecorder: a `Recorder` (tsrecorder) deployed by the operator (guide step 6)."""

from typing import Any, NotRequired, TypedDict

import pulumi
from pulumi_kubernetes.core import v1 as core

from ..core.config import SecretInputs
from ..core.parts import RecorderSettings
from ..core.secret_keys import S3_SECRET_KEYS
from .errors import read_args
from .kube import (
    DEVICE_REPLACE_ON_CHANGES,
    TailscaleCustomResource,
    child_options,
    operator_namespace_annotation,
    replace_with_options,
    take_replace_with,
)
from .secrets import as_secret


class S3StorageArgs(TypedDict):
    endpoint: str
    """S3-compatible endpoint, e.g. `s3.us-east-1.amazonaws.com`."""
    bucket: str
    """Bucket used only for recordings."""
    access_key_id: NotRequired[pulumi.Input[str]]
    """Static access key ID, stored in a Kubernetes Secret (kept secret); omit to use `roleArn` or
    the node's identity."""
    secret_access_key: NotRequired[pulumi.Input[str]]
    """Static secret access key, stored in a Kubernetes Secret; set with `pulumi config set --secret
    --path`."""
    role_arn: NotRequired[str]
    """IRSA role for the recorder's ServiceAccount instead of static keys."""


class SessionRecorderArgs(TypedDict):
    namespace: str
    """The operator's namespace; the credentials Secret must live there."""
    tags: list[str]
    """Tags of the recorder device; the operator must own them."""
    replicas: NotRequired[int]
    """Recorder replicas (default 1); more than one needs S3 storage."""
    s3: NotRequired[S3StorageArgs]
    """Persist recordings in S3. Without it recordings are ephemeral and the UI is enabled."""
    recorder_name: NotRequired[str]
    """Name of the Recorder object (default `recorder`)."""


def recorder_spec(args: RecorderSettings, credentials_secret: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"tags": list(args.tags), "replicas": args.replicas}
    s3 = args.s3
    # Without S3 the UI is the only way to get at recordings (Recorder CRD docs).
    spec["enableUI"] = s3 is None
    if s3 is not None:
        storage: dict[str, Any] = {"endpoint": s3.endpoint, "bucket": s3.bucket}
        if credentials_secret:
            storage["credentials"] = {"secret": {"name": credentials_secret}}
        spec["storage"] = {"s3": storage}
        if s3.role_arn:
            spec["statefulSet"] = {"pod": {"serviceAccount": {"annotations": {
                "eks.amazonaws.com/role-arn": s3.role_arn}}}}
    return spec


class SessionRecorder(pulumi.ComponentResource):
    """Records kubectl sessions through the API server proxy. `opts.replace_with` (e.g. the
    operator's release) applies to the Recorder: it is deleted before that release is."""

    recorder_name: pulumi.Output[str]
    """Name of the Recorder object."""

    def __init__(self, name: str, args: SessionRecorderArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        settings, inputs = read_args(RecorderSettings, args, "SessionRecorder")
        self._create(name, settings, inputs, opts)

    @classmethod
    def from_spec(cls, name: str, settings: RecorderSettings, inputs: SecretInputs,
                  opts: pulumi.ResourceOptions | None = None) -> "SessionRecorder":
        """The component for settings already validated (SecureClusterAccess's plan);
        `inputs` holds `s3.accessKeyId` and `s3.secretAccessKey` with static S3 keys."""
        component = cls.__new__(cls)
        component._create(name, settings, inputs, opts)
        return component

    def _create(self, name: str, args: RecorderSettings, inputs: SecretInputs,
                opts: pulumi.ResourceOptions | None) -> None:
        opts, replace_with = take_replace_with(opts)
        super().__init__("tailscale-cluster-access:index:SessionRecorder", name, None, opts)
        after: list[pulumi.Resource] = []
        recorder_name = args.recorder_name
        credentials_secret = ""
        if args.s3 is not None and args.s3.static_credentials:
            credentials_secret = f"{recorder_name}-s3-credentials"
            secret = core.Secret(
                f"{name}-s3-credentials",
                metadata={"name": credentials_secret, "namespace": args.namespace},
                type="Opaque",
                string_data=dict(zip(S3_SECRET_KEYS,
                                     (as_secret(inputs.get("s3.accessKeyId")),
                                      as_secret(inputs.get("s3.secretAccessKey"))), strict=True)),
                opts=child_options(self, opts,
                                   additional_secret_outputs=["stringData", "data"]),
            )
            after = [*after, secret]
        self.recorder = TailscaleCustomResource(
            f"{name}-recorder",
            kind="Recorder",
            metadata={"name": recorder_name,
                      "annotations": {"pulumi.com/waitFor": "condition=RecorderReady",
                                      **operator_namespace_annotation(args.namespace)}},
            spec=recorder_spec(args, credentials_secret),
            opts=child_options(self, opts, depends_on=after,
                               # Tags apply only when the operator creates the device.
                               replace_on_changes=list(DEVICE_REPLACE_ON_CHANGES),
                               delete_before_replace=True,
                               **replace_with_options(replace_with, self)),
        )
        self.recorder_name = pulumi.Output.from_input(recorder_name)
        self.register_outputs({"recorder_name": self.recorder_name})
