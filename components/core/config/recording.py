"""Session recording: the recorder, its storage, and the rules that ask for it."""

from ..chart import MIN_CHART_VERSION_FOR_EVENTS
from ..identifiers import chart_version_tuple
from ..parts import RecorderSettings
from ..problems import Problem
from ..spec import ClusterAccessSpec, S3Storage, SessionRecording
from .reader import SpecReader, join


def check_s3(reader: SpecReader, s3: S3Storage, path: str, given: frozenset[str]) -> None:
    if s3.has_access_key_id != s3.has_secret_access_key:
        reader.problem(join(path, "secretAccessKey" if s3.has_access_key_id else "accessKeyId"),
                       "static S3 credentials need both accessKeyId and secretAccessKey.",
                       "set both (the secret with `pulumi config set --secret --path "
                       "sessionRecording.s3.secretAccessKey`), or neither to use roleArn.")
    if s3.has_access_key_id and s3.role_arn:
        reader.problem(join(path, "roleArn"), "give either static keys or roleArn, not both.",
                       "remove roleArn, or the static keys.")


def check_recorder_replicas(reader: SpecReader, recording: SessionRecording | RecorderSettings,
                            path: str, given: frozenset[str]) -> None:
    if recording.replicas > 1 and recording.s3 is None:
        reader.problem(join(path, "replicas"),
                       "more than one recorder replica needs S3 storage (the Recorder CRD "
                       "rejects it otherwise).", "configure s3 storage or use 1 replica.")


def check_recording(spec: ClusterAccessSpec) -> list[Problem]:
    """Recording asked for where no recorder runs, and recorder settings that do nothing."""
    recording = spec.session_recording
    problems = [Problem(f"access[{index}].recordSessions",
                        "asks for session recording, but no recorder is deployed.",
                        "set sessionRecording.enabled: true, or remove recordSessions.")
                for index, rule in enumerate(spec.access)
                if rule.record_sessions and not recording.enabled]
    problems += [Problem(f"access[{index}].recordApiRequests",
                         "records API requests, which needs the rule to record sessions.",
                         "set recordSessions: true on this rule, or remove recordApiRequests.")
                 for index, rule in enumerate(spec.access)
                 if rule.record_api_requests and not rule.record_sessions]
    version = chart_version_tuple(spec.operator.chart_version)
    events_keys = (["sessionRecording.recordApiRequests"] if recording.record_api_requests
                   else []) + [f"access[{index}].recordApiRequests"
                               for index, rule in enumerate(spec.access)
                               if rule.record_api_requests]
    if version is not None and version < MIN_CHART_VERSION_FOR_EVENTS:
        problems += [Problem(events_key,
                             "needs operator 1.94.1 or newer (enableEvents on a grant); "
                             f"operator.chartVersion is {spec.operator.chart_version}.",
                             "raise operator.chartVersion or turn recordApiRequests off.")
                     for events_key in events_keys]
    if not recording.enabled:
        for name, is_set in (("s3", recording.s3 is not None),
                             ("recordApiRequests", recording.record_api_requests)):
            if is_set:
                problems.append(Problem(f"sessionRecording.{name}",
                                        "has no effect while sessionRecording.enabled is false.",
                                        "enable session recording or remove this setting."))
    return problems


# Operator 1.94.1 and later refuse every request through the API server proxy (not only exec)
# for a caller whose grant enforces recording while no recorder is reachable.
ENFORCED_BEFORE_RECORDER = (
    "with sessionRecording.enforce, every API request through the proxy from {rules} gets "
    "403 (operator 1.94.1 and later; not only exec) until the Recorder is ready")
SAFE_ROLLOUT = ("the safe rollout is two changes: deploy the recorder first "
                "(sessionRecording.enabled: true, no recordSessions yet), then add "
                "recordSessions once it is ready")


def recording_warnings(spec: ClusterAccessSpec) -> list[str]:
    """A recorder nobody records to yet: allowed, it is the first step of the safe rollout."""
    where = f"{spec.cluster}: " if spec.cluster else ""
    if spec.session_recording.enabled and not spec.recorded_rules:
        return [f"{where}a recorder is deployed but no access rule records sessions yet: fine "
                "as the first step of a rollout (next: recordSessions: true on the rules to "
                "record); otherwise disable sessionRecording."]
    return []


def recorder_created_warning(spec: ClusterAccessSpec) -> str | None:
    """What a preview must say when it creates (or replaces) the Recorder while rules enforce
    recording: only the engine knows whether the Recorder is new, so the plan cannot tell."""
    recording = spec.session_recording
    rules = [f"{', '.join(rule.src)} (access[{index}])" for index, rule in enumerate(spec.access)
             if rule.record_sessions]
    if not (recording.enabled and recording.enforce and rules):
        return None
    where = f"{spec.cluster}: " if spec.cluster else ""
    return (f"{where}this change creates or replaces the Recorder while access rules record "
            f"sessions: {ENFORCED_BEFORE_RECORDER.format(rules=', '.join(rules))}; "
            f"{SAFE_ROLLOUT}.")
