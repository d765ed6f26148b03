"""SessionRecorder: a `Recorder` (tsrecorder) deployed by the operator (guide step 6)."""

from typing import Any, NotRequired, TypedDict

import pulumi
from pulumi_kubernetes.core import v1 as core

from ..core.config import ArgChecker
from ..core.problems import Problem
from ..core.secret_keys import S3_SECRET_KEYS
from .errors import raise_for_problems
from .kube import (
    DEVICE_REPLACE_ON_CHANGES,
    TailscaleCustomResource,
    child_options,
    operator_namespace_annotation,
)
from .secrets import as_secret


class S3StorageArgs(TypedDict):
    endpoint: str
    """S3-compatible endpoint, e.g. `s3.us-east-1.amazonaws.com`."""
    bucket: str
    """Bucket used only for recordings."""
    access_key_id: NotRequired[pulumi.Input[str]]
    """Static access key ID (kept secret); omit to use `role_arn` or the node's identity."""
    secret_access_key: NotRequired[pulumi.Input[str]]
    """Static secret access key (kept secret)."""
    role_arn: NotRequired[str]
    """IAM role for the recorder's ServiceAccount (IRSA) instead of static keys."""


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


def recorder_spec(args: SessionRecorderArgs, credentials_secret: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"tags": list(args["tags"]), "replicas": args.get("replicas", 1)}
    s3 = args.get("s3")
    # Without S3 the UI is the only way to get at recordings (Recorder CRD docs).
    spec["enableUI"] = s3 is None
    if s3 is not None:
        storage: dict[str, Any] = {"endpoint": s3["endpoint"], "bucket": s3["bucket"]}
        if credentials_secret:
            storage["credentials"] = {"secret": {"name": credentials_secret}}
        spec["storage"] = {"s3": storage}
        if s3.get("role_arn"):
            spec["statefulSet"] = {"pod": {"serviceAccount": {"annotations": {
                "eks.amazonaws.com/role-arn": s3["role_arn"]}}}}
    return spec


class SessionRecorder(pulumi.ComponentResource):
    """Records kubectl sessions through the API server proxy."""

    recorder_name: pulumi.Output[str]
    """Name of the Recorder object."""

    def __init__(self, name: str, args: SessionRecorderArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        check = ArgChecker()
        check.dns_label("namespace", args.get("namespace"))
        check.tags("tags", args.get("tags"))
        check.replicas("replicas", args.get("replicas", 1))
        check.dns_label("recorder_name", args.get("recorder_name", "recorder"))
        if args.get("replicas", 1) > 1 and not args.get("s3"):
            check.problems.append(Problem("replicas", "more than one recorder replica needs S3 "
                                          "storage.", "set s3, or use 1 replica."))
        s3_args = args.get("s3")
        if s3_args is not None:
            for field in ("endpoint", "bucket"):
                if not s3_args.get(field):
                    check.problems.append(Problem(f"s3.{field}", "is required with S3 storage."))
            if bool(s3_args.get("access_key_id")) != bool(s3_args.get("secret_access_key")):
                check.problems.append(Problem("s3", "static credentials need both access_key_id "
                                              "and secret_access_key."))
        raise_for_problems(check.problems, "SessionRecorder")
        super().__init__("tailscale-cluster-access:index:SessionRecorder", name, None, opts)
        after: list[pulumi.Resource] = []
        recorder_name = args.get("recorder_name", "recorder")
        s3 = args.get("s3")
        credentials_secret = ""
        if s3 is not None and s3.get("access_key_id"):
            credentials_secret = f"{recorder_name}-s3-credentials"
            secret = core.Secret(
                f"{name}-s3-credentials",
                metadata={"name": credentials_secret, "namespace": args["namespace"]},
                type="Opaque",
                string_data=dict(zip(S3_SECRET_KEYS,
                                     (as_secret(s3.get("access_key_id")),
                                      as_secret(s3.get("secret_access_key"))), strict=True)),
                opts=child_options(self, opts,
                                   additional_secret_outputs=["stringData", "data"]),
            )
            after = [*after, secret]
        TailscaleCustomResource(
            f"{name}-recorder",
            kind="Recorder",
            metadata={"name": recorder_name,
                      "annotations": {"pulumi.com/waitFor": "condition=RecorderReady",
                                      **operator_namespace_annotation(args["namespace"])}},
            spec=recorder_spec(args, credentials_secret),
            opts=child_options(self, opts, depends_on=after,
                               # Tags apply only when the operator creates the device.
                               replace_on_changes=list(DEVICE_REPLACE_ON_CHANGES),
                               delete_before_replace=True),
        )
        self.recorder_name = pulumi.Output.from_input(recorder_name)
        self.register_outputs({"recorder_name": self.recorder_name})
