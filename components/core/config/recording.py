"""Session recording: the recorder, its storage, and the rules that ask for it."""

from ..identifiers import chart_version_tuple
from ..problems import Problem
from ..spec import MIN_CHART_VERSION_FOR_EVENTS, ClusterAccessSpec, S3Storage, SessionRecording
from .credentials import check_secret_value
from .reader import ConfigReader


def read_session_recording(reader: ConfigReader) -> SessionRecording:
    enabled = reader.boolean("enabled", False)
    enforce = reader.boolean("enforce", True)
    events = reader.boolean("recordApiRequests", False)
    replicas = reader.integer("replicas", 1, minimum=1)
    s3: S3Storage | None = None
    if reader.has("s3"):
        s3_reader = reader.obj("s3")
        endpoint = s3_reader.string("endpoint", "", fix='e.g. "s3.us-east-1.amazonaws.com".')
        bucket = s3_reader.string("bucket", "")
        access_key = check_secret_value(s3_reader, "accessKeyId")
        secret_key = check_secret_value(s3_reader, "secretAccessKey")
        role_arn = s3_reader.string("roleArn", "")
        s3_reader.finish()
        if not endpoint:
            s3_reader.problem(
                s3_reader.key("endpoint"),
                "is required with S3 storage.",
                'e.g. "s3.us-east-1.amazonaws.com".',
            )
        if not bucket:
            s3_reader.problem(
                s3_reader.key("bucket"),
                "is required with S3 storage.",
                "name a bucket used only for recordings.",
            )
        if access_key != secret_key:
            s3_reader.problem(
                s3_reader.key("secretAccessKey" if access_key else "accessKeyId"),
                "static S3 credentials need both accessKeyId and secretAccessKey.",
                "set both (the secret with `pulumi config set --secret --path "
                "sessionRecording.s3.secretAccessKey`), or neither to use roleArn.",
            )
        if access_key and role_arn:
            s3_reader.problem(
                s3_reader.key("roleArn"), "give either static keys or roleArn, not both."
            )
        s3 = S3Storage(
            endpoint=endpoint,
            bucket=bucket,
            static_credentials=access_key and secret_key,
            role_arn=role_arn,
        )
    reader.finish()
    if replicas > 1 and s3 is None:
        reader.problem(
            reader.key("replicas"),
            "more than one recorder replica needs S3 storage (the Recorder CRD rejects "
            "it otherwise).",
            "configure sessionRecording.s3 or use 1 replica.",
        )
    return SessionRecording(
        enabled=enabled, enforce=enforce, record_api_requests=events, replicas=replicas, s3=s3
    )



def check_recording(spec: ClusterAccessSpec) -> list[Problem]:
    """Recording asked for where no recorder runs, and recorder settings that do nothing."""
    recording = spec.session_recording
    problems = [Problem(f"access[{index}].recordSessions",
                        "asks for session recording, but no recorder is deployed.",
                        "set sessionRecording.enabled: true, or remove recordSessions.")
                for index, rule in enumerate(spec.access)
                if rule.record_sessions and not recording.enabled]
    version = chart_version_tuple(spec.operator.chart_version)
    if (recording.record_api_requests and version is not None
            and version < MIN_CHART_VERSION_FOR_EVENTS):
        problems.append(Problem("sessionRecording.recordApiRequests",
                                f"needs operator 1.96 or newer; operator.chartVersion is "
                                f"{spec.operator.chart_version}.",
                                "raise operator.chartVersion or turn recordApiRequests off."))
    if recording.enabled and not spec.recorded_rules:
        problems.append(Problem("sessionRecording.enabled",
                                "a recorder is deployed but no access rule records sessions.",
                                "set recordSessions: true on the rules to record, or disable "
                                "sessionRecording."))
    if not recording.enabled:
        for name, is_set in (("s3", recording.s3 is not None),
                             ("recordApiRequests", recording.record_api_requests)):
            if is_set:
                problems.append(Problem(f"sessionRecording.{name}",
                                        "has no effect while sessionRecording.enabled is false.",
                                        "enable session recording or remove this setting."))
    return problems
