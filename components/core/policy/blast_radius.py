"""What a recorder outage does to the people the access matrix lets in.

Operator 1.94.1 and later (tailscale/tailscale `k8s-operator/api-proxy/proxy.go`,
`serveDefault` and `determineRecorderConfig`, cherry-picked as 77af25718 from #18393): the
proxy unions the `tailscale.com/cap/kubernetes` values of every grant that matches a caller;
when any of them sets `enforceRecorder` and the recorder tag resolves to no address, every API
request of that caller gets 403 (not only exec and attach). With `enableEvents` every request
is first sent to the recorder: a recorder that cannot be reached answers it with 502 when
recording is enforced, and delays it (the connection attempt) when it is not.
"""

from collections.abc import Iterable

from ..spec import ClusterAccessSpec
from .access import AS_ITSELF, NO_NETWORK_PATH, OPERATOR, STACK_ORIGIN, TAGS_AS_GROUPS, AccessRow

# Rows without a kubernetes grant of their own: no way in that could repair the recorder.
_NOT_A_WAY_IN = frozenset({NO_NETWORK_PATH, OPERATOR, TAGS_AS_GROUPS, AS_ITSELF})


def _reaches(row: AccessRow) -> bool:
    return bool(row.ports) and row.kind not in _NOT_A_WAY_IN


def failing_closed(rows: Iterable[AccessRow]) -> list[AccessRow]:
    """Rows with a kubernetes grant and a network path that the recorder's outage shuts out."""
    return [row for row in rows if _reaches(row) and row.fails_closed]


def ways_in_without_recorder(rows: Iterable[AccessRow]) -> list[AccessRow]:
    """Rows with a kubernetes grant and a network path that no grant makes fail closed."""
    return [row for row in rows if _reaches(row) and not row.fails_closed]


def _named(spec: ClusterAccessSpec, rows: Iterable[AccessRow]) -> str:
    """Each source with the grants behind it: `group:admins (access[0])`, `* (base grants[2])`;
    the stack's own grants by the access rules that name the source."""
    def origins(row: AccessRow) -> list[str]:
        rules = [f"access[{index}]" for index, rule in enumerate(spec.access)
                 if row.src in rule.src]
        named = [label for origin in row.origin
                 for label in (rules or [origin] if origin == STACK_ORIGIN else [origin])]
        return list(dict.fromkeys(named))
    return ", ".join(f"{row.src} ({', '.join(origins(row))})" for row in rows)


def recorder_outage_warnings(spec: ClusterAccessSpec, rows: list[AccessRow]) -> list[str]:
    """The recorder's blast radius: who it shuts out, how likely that is, and whether anyone
    is left to repair it."""
    where = f"{spec.cluster}: " if spec.cluster else ""
    recording = spec.session_recording
    closed = failing_closed(rows)
    shut_out = _named(spec, closed)
    warnings: list[str] = []
    if closed and not spec.recorder_deployed:
        warnings.append(
            f"{where}grants enforce recording for {shut_out}, but this stack deploys no "
            "recorder: unless one with their recorder tag runs elsewhere, every API request "
            "they make through the proxy gets 403 (operator 1.94.1 and later).")
    elif closed and recording.replicas == 1:
        storage = ("" if recording.s3 is not None else
                   "; without S3 the recordings also live on the pod's ephemeral storage")
        warnings.append(
            f"{where}recording is enforced for {shut_out} with a single recorder replica: "
            "while it restarts, is rescheduled or is down, every API request they make "
            "through the proxy gets 403 (operator 1.94.1 and later; not only exec and "
            f"attach){storage}. Run sessionRecording.replicas: 2 or more with "
            "sessionRecording.s3 (more than one replica needs S3), and keep a breakGlass "
            "way in.")
    events = [row for row in rows if _reaches(row) and row.events]
    if events:
        enforced = _named(spec, (row for row in events if row.fails_closed))
        not_enforced = _named(spec, (row for row in events if not row.fails_closed))
        outcomes = ([f"requests of {enforced} get 502"] if enforced else []) + (
            [f"requests of {not_enforced} wait for the attempt to fail, then go unrecorded"]
            if not_enforced else [])
        warnings.append(
            f"{where}enableEvents sends every API request of {_named(spec, events)} to the "
            "recorder before the API server sees it: each request waits for the recorder "
            f"(latency), and while the recorder cannot be reached {' and '.join(outcomes)} "
            "(operator 1.94.1 and later).")
    if closed and not ways_in_without_recorder(rows):
        warnings.append(
            f"{where}every identity with a kubernetes grant on this cluster fails closed "
            f"({shut_out}): while the recorder is down nobody can use the cluster through the "
            "tailnet, not even to repair the recorder. Add breakGlass (a grant without "
            "enforceRecorder, with a posture; see docs/runbooks.md, \"The recorder is "
            "down\").")
    return warnings
