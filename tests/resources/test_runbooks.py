"""The runbooks' changes to a running stack (docs/runbooks.md), each as two runs under the
mocks: the stack as it runs, then the changed config; the assertions are what the engine
would do with the second registration (same URN and changed inputs: an update in place;
dependencies: the order it applies them in)."""

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest
from conftest import PROJECT_ROOT, run_config, stack_config
from pulumi.runtime import mocks
from tailscale_cluster_access.core.policy.hujson import parse_data
from tailscale_cluster_access.offline import PreviewMocks, ProgramRun, Registration

ACL = "tailscale:index/acl:Acl"
OAUTH_CLIENT = "tailscale:index/oauthClient:OauthClient"
RELEASE = "kubernetes:helm.sh/v3:Release"
PROXY_GROUP = "kubernetes:tailscale.com/v1alpha1:ProxyGroup"
RECORDER = "kubernetes:tailscale.com/v1alpha1:Recorder"
KUBERNETES_CAPABILITY = "tailscale.com/cap/kubernetes"


def changed_paths(old: Any, new: Any, path: str = "") -> set[str]:
    """Dotted input paths whose values differ between two registrations."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: set[str] = set()
        for key in old.keys() | new.keys():
            found |= changed_paths(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        return found
    return set() if old == new else {path}


def waits_for(run: ProgramRun, later: Registration, earlier: Registration) -> bool:
    """`later` depends on `earlier`, directly or through others: applied after it."""
    by_urn = run.by_urn()
    pending, seen = list(later.dependencies), set()
    while pending:
        urn = pending.pop()
        if urn == earlier.urn:
            return True
        if urn not in seen and urn in by_urn:
            seen.add(urn)
            pending.extend(by_urn[urn].dependencies)
    return False


def grants_to(run: ProgramRun, tag: str) -> list[dict[str, Any]]:
    """The kubernetes capability grants the written policy gives the devices tagged `tag`."""
    policy = parse_data(run.one(ACL).inputs["acl"])
    return [grant for grant in policy.get("grants", [])
            if tag in grant["dst"] and KUBERNETES_CAPABILITY in grant.get("app", {})]


def dev(**changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(stack_config("dev"))
    config.update(changes)
    return config


@pytest.fixture
def run() -> Callable[[dict[str, Any]], ProgramRun]:
    def apply(config: dict[str, Any]) -> ProgramRun:
        return run_config(config, stack="dev", preview=False)

    return apply


# --- Change `tags.operator` --------------------------------------------------------------


def test_operator_tag_change_updates_the_oauth_client_in_place(
        run: Callable[[dict[str, Any]], ProgramRun]) -> None:
    """The client keeps its ID (tailscale provider 0.29.2 updates tags in place), the release
    only gets the new default tags and the operator keeps its hostname: its device is not
    replaced, so it keeps the old tag until it logs in again, and the new login must not
    meet the old device (it would become `tailscale-operator-1`)."""
    first = run(dev())
    second = run(dev(tags={"operator": "tag:k8s-operator-b", "proxy": "tag:k8s",
                           "recorder": "tag:tsrecorder"}))
    old_client, new_client = first.one(OAUTH_CLIENT), second.one(OAUTH_CLIENT)
    assert new_client.urn == old_client.urn
    assert changed_paths(old_client.inputs, new_client.inputs) == {"tags"}
    assert new_client.inputs["tags"] == ["tag:k8s-operator-b"]
    assert "replaceOnChanges" not in new_client.options
    assert "deleteBeforeReplace" not in new_client.options
    old_release, new_release = first.one(RELEASE), second.one(RELEASE)
    assert changed_paths(old_release.inputs, new_release.inputs) == {
        "values.operatorConfig.defaultTags"}
    assert new_release.inputs["values"]["operatorConfig"]["hostname"] == "tailscale-operator"
    assert first.outputs["kubeconfigCommand"] == second.outputs["kubeconfigCommand"] == (
        "tailscale configure kubeconfig tailscale-operator")
    # The policy moves to the new tag at once: the running device, still tagged with the old
    # one, keeps no grant until it logs in again (step 2 of the runbook).
    assert grants_to(second, "tag:k8s-operator") == []
    assert len(grants_to(second, "tag:k8s-operator-b")) == 2


# --- Enable high availability ------------------------------------------------------------


def test_enabling_ha_moves_the_grants_before_the_proxy_group_exists(
        run: Callable[[dict[str, Any]], ProgramRun]) -> None:
    """One `up` writes the policy without the operator's grants and turns the in-process
    proxy off before it creates the ProxyGroup: kubectl through the tailnet is down until
    the ProxyGroup is ready and users run the new kubeconfig command."""
    first = run(dev())
    second = run(dev(proxy={"highAvailability": True}))
    assert len(grants_to(first, "tag:k8s-operator")) == 2
    assert grants_to(second, "tag:k8s-operator") == []
    proxy_group = second.one(PROXY_GROUP)
    group_tag = proxy_group.inputs["spec"]["tags"][0]
    assert len(grants_to(second, group_tag)) == 2
    acl, release = second.one(ACL), second.one(RELEASE)
    assert acl.urn == first.one(ACL).urn and release.urn == first.one(RELEASE).urn
    assert release.inputs["values"]["apiServerProxyConfig"]["mode"] == "false"
    assert waits_for(second, proxy_group, release) and waits_for(second, release, acl)
    assert second.outputs["kubeconfigCommand"] != first.outputs["kubeconfigCommand"]


# --- Move a stack to another cluster -----------------------------------------------------


class TailnetWithAPolicy(PreviewMocks):
    """The tailscale provider on a tailnet whose policy is not the default (the stack's own
    last write, left by `pulumi destroy`): a create without overwrite gets 412."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == ACL and not args.inputs.get("overwriteExistingContent"):
            raise RuntimeError("creating tailscale_acl: 412 Precondition Failed")
        return super().new_resource(args)


def test_moving_a_stack_needs_adopt_existing_for_the_policy_it_left_behind() -> None:
    """`pulumi destroy` forgets the Acl without resetting the policy, so the `up` against
    the new cluster creates the Acl on a tailnet with a policy: refused unless
    policy.adoptExisting."""
    before_move = run_config(dev(), stack="dev", preview=False)
    assert before_move.one(ACL).inputs.get("resetAclOnDestroy", False) is False
    with pytest.raises(RuntimeError, match="412"):
        run_config(dev(), stack="dev", preview=False, program_mocks=TailnetWithAPolicy())
    adopting = dev(policy={**stack_config("dev")["policy"], "adoptExisting": True})
    moved = run_config(adopting, stack="dev", preview=False, program_mocks=TailnetWithAPolicy())
    assert moved.one(ACL).inputs["overwriteExistingContent"] is True
    assert moved.one(ACL).inputs["acl"] == before_move.one(ACL).inputs["acl"]


# --- Turn on session recording -----------------------------------------------------------


def test_recorder_first_then_record_sessions(
        run: Callable[[dict[str, Any]], ProgramRun]) -> None:
    """Step 1 deploys the recorder with no grant asking for it; step 2 only changes the
    policy, so enforceRecorder is written when the recorder already runs (since operator
    1.94.1 an enforced grant with no reachable recorder fails every request with 403)."""
    step1 = run(dev(sessionRecording={"enabled": True, "enforce": True}))
    recorder = step1.one(RECORDER)
    step1_policy = parse_data(step1.one(ACL).inputs["acl"])
    assert step1_policy["tagOwners"]["tag:tsrecorder"] == ["tag:k8s-operator"]
    assert any(rule["dst"] == ["tag:tsrecorder:80"] for rule in step1_policy["acls"])
    assert [grant for grant in grants_to(step1, "tag:k8s-operator")
            if "recorder" in grant["app"][KUBERNETES_CAPABILITY][0]] == []
    access = copy.deepcopy(stack_config("dev")["access"])
    access[0]["recordSessions"] = True
    step2 = run(dev(sessionRecording={"enabled": True, "enforce": True}, access=access))
    assert step2.one(RECORDER).urn == recorder.urn
    assert changed_paths(recorder.inputs, step2.one(RECORDER).inputs) == set()
    recorded = [grant["app"][KUBERNETES_CAPABILITY][0]
                for grant in grants_to(step2, "tag:k8s-operator")
                if "recorder" in grant["app"][KUBERNETES_CAPABILITY][0]]
    assert recorded == [{"impersonate": {"groups": ["system:masters"]},
                         "recorder": ["tag:tsrecorder"], "enforceRecorder": True}]


def test_every_test_the_runbooks_name_exists() -> None:
    text = (PROJECT_ROOT / "docs" / "runbooks.md").read_text()
    named = set(re.findall(r"tested(?::| by)\s+`(test_\w+)`", text))
    assert "test_recorder_first_then_record_sessions" in named
    defined = {match for path in (PROJECT_ROOT / "tests").rglob("test_*.py")
               for match in re.findall(r"^def (test_\w+)\(", path.read_text(), re.M)}
    assert sorted(named - defined) == []


# --- The recorder is down ----------------------------------------------------------------


def test_recorder_down_break_glass_then_fail_open_then_enforce_again(
        run: Callable[[dict[str, Any]], ProgramRun]) -> None:
    """The stack as it runs: both rules enforce recording, break-glass does not. Step 2 turns
    enforcement off: only the policy changes (no recorder, release or binding is touched),
    and no row fails closed; step 3 writes the first policy again."""
    access = [{**rule, "recordSessions": True} for rule in stack_config("dev")["access"]]
    groups = {**stack_config("dev")["groups"], "group:oncall": ["carol@example.com"]}
    break_glass = {"src": ["group:oncall"], "kubernetesGroups": ["system:masters"],
                   "posture": ["posture:latest"]}
    postures = {"posture:latest": ["node:tsReleaseTrack == 'stable'"]}

    def stack(enforce: bool) -> dict[str, Any]:
        return dev(access=access, groups=groups, postures=postures, breakGlass=break_glass,
                   sessionRecording={"enabled": True, "enforce": enforce})

    running, fail_open, enforced = run(stack(True)), run(stack(False)), run(stack(True))

    def fails_closed(step: ProgramRun) -> dict[str, bool]:
        rows = step.outputs["accessMatrix"]
        return {row["src"]: row["failsClosed"] for row in rows if row["kind"] != "operator"}

    assert fails_closed(running) == {"group:ml-engineers": True, "group:ml-readers": True,
                                     "group:oncall": False}
    assert set(fails_closed(fail_open).values()) == {False}
    for earlier, later in ((running, fail_open), (fail_open, enforced)):
        changed = {registration.name for registration in later.registrations
                   if (before := earlier.by_urn().get(registration.urn)) is not None
                   and changed_paths(before.inputs, registration.inputs)}
        assert changed == {earlier.one(ACL).name}
        assert {r.urn for r in later.registrations} == {r.urn for r in earlier.registrations}
    values = [grant["app"][KUBERNETES_CAPABILITY][0]
              for grant in grants_to(fail_open, "tag:k8s-operator")]
    assert [value.get("enforceRecorder") for value in values] == [False, False, None]
    assert enforced.one(ACL).inputs["acl"] == running.one(ACL).inputs["acl"]
