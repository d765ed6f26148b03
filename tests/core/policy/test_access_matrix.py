"""The access matrix: one row per source, the union of its rules as Tailscale applies them."""

import copy
from typing import Any

from conftest import PROJECT_ROOT, stack_config
from tailscale_cluster_access.core.cluster_plan import plan_cluster
from tailscale_cluster_access.core.policy.access import AccessRow

ADMIN = {"src": ["group:ml-engineers"], "kubernetesGroups": ["system:masters"]}
READER = {"src": ["group:ml-engineers"], "kubernetesGroups": ["tailnet-readers"]}


def row(*access: dict[str, Any]) -> AccessRow:
    config = copy.deepcopy(stack_config("prod"))
    config["access"] = list(access)
    rows = {r.src: r for r in plan_cluster(config, PROJECT_ROOT).access if r.kind == "grant"}
    assert len(rows) == 1
    return rows["group:ml-engineers"]


def test_one_row_with_the_union_of_groups_and_roles() -> None:
    found = row({**ADMIN, "recordSessions": True}, READER)
    assert found.kubernetes_groups == ("system:masters", "tailnet-readers")
    assert set(found.cluster_roles) >= {"view"}


def test_any_unconditional_recording_grant_records_and_enforces() -> None:
    found = row({**ADMIN, "recordSessions": True}, READER)
    assert found.recorded and found.enforced


def test_a_recording_grant_behind_a_posture_does_not_cover_the_other_path() -> None:
    found = row({**ADMIN, "recordSessions": True, "posture": ["posture:latest"]}, READER)
    assert not found.recorded and not found.enforced
    assert found.posture == ()  # the reader rule reaches it without a posture


def test_posture_is_required_only_when_every_rule_requires_one() -> None:
    config = copy.deepcopy(stack_config("prod"))
    config["postures"] = {"posture:latest": ["node:tsReleaseTrack == 'stable'"],
                          "posture:linux": ["node:os == 'linux'"]}
    config["access"] = [{**ADMIN, "posture": ["posture:latest"], "recordSessions": True},
                        {**READER, "posture": ["posture:linux"]}]
    found = {r.src: r for r in plan_cluster(config, PROJECT_ROOT).access}["group:ml-engineers"]
    assert found.kind == "grant"
    assert found.posture == ("posture:latest", "posture:linux")
    assert not found.recorded


def test_every_rule_recording_records_even_behind_postures() -> None:
    found = row({**ADMIN, "recordSessions": True, "posture": ["posture:latest"]})
    assert found.recorded and found.enforced and found.posture == ("posture:latest",)
