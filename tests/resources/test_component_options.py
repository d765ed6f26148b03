"""Options given to SecureClusterAccess reach its resources, and what a second run with
changed config would make the engine do (replacement decisions from `replaceOnChanges`, the
order of a delete-before-replace from `replaceWith` and property dependencies)."""

from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT_ROOT
from tailscale_cluster_access.core.fleet import synthetic_fleet
from tailscale_cluster_access.offline import ProgramRun, run_program
from tailscale_cluster_access.offline.fleet_runner import StackReferenceMocks
from tailscale_cluster_access.resources.kube import duration_seconds

PROXY_GROUP = "kubernetes:tailscale.com/v1alpha1:ProxyGroup"
RECORDER = "kubernetes:tailscale.com/v1alpha1:Recorder"

PROGRAM = """
import json
import pulumi
from pulumi_kubernetes.core import v1 as core
from tailscale_cluster_access import SecureClusterAccess

outside = core.Namespace("outside", metadata={{"name": "outside"}})
SecureClusterAccess("c", json.loads({args!r}), opts=pulumi.ResourceOptions({options}))
"""
OPTIONS = ('depends_on={depends_on}, retain_on_delete=True, '
           'custom_timeouts=pulumi.CustomTimeouts(create="31m", update="32m")')


def args(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "cluster": "gpu",
        "groups": {"group:ml-engineers": ["alice@example.com"],
                   "group:ml-readers": ["bob@example.com"]},
        # Relative to the program's project (tmp_path), where run() copies it.
        "policy": {"base": "base.hujson"},
        "proxy": {"high_availability": True},
        "session_recording": {"enabled": True},
        "access": [{"src": ["group:ml-engineers"], "kubernetes_groups": ["system:masters"],
                    "record_sessions": True},
                   {"src": ["group:ml-readers"], "kubernetes_groups": ["tailnet-readers"]}],
    }
    base.update(changes)
    return base


def run(tmp_path: Path, component_args: dict[str, Any],
        depends_on: str = "[outside]", options: str = OPTIONS) -> ProgramRun:
    import json
    program = tmp_path / "__main__.py"
    program.write_text(PROGRAM.format(args=json.dumps(component_args),
                                      options=options.format(depends_on=depends_on)))
    (tmp_path / "base.hujson").write_text((PROJECT_ROOT / "policies" / "base.hujson").read_text())
    return run_program(program, project="p", stack_name="s", config={}, preview=False)


@pytest.mark.parametrize("depends_on", [
    "[outside]", "outside", "pulumi.Output.from_input([outside])",
    "pulumi.Output.from_input(outside)", "[pulumi.Output.from_input(outside)]"])
def test_options_reach_every_resource(tmp_path: Path, depends_on: str) -> None:
    result = run(tmp_path, args(), depends_on)
    outside = next(r for r in result.registrations if r.name == "outside")
    inside = [r for r in result.registrations if r.custom and r.name != "outside"]
    assert {r.type for r in inside} >= {"tailscale:index/acl:Acl", PROXY_GROUP, RECORDER,
                                        "kubernetes:helm.sh/v3:Release"}
    for resource in inside:
        assert outside.urn in resource.dependencies, resource.name
        assert resource.options.get("retainOnDelete") is True, resource.name
        assert resource.options.get("customTimeouts") == {
            "create": "31m", "update": "32m", "delete": ""}, resource.name
    # Helm waits for the release as long as the longest timeout asked (its default: 300 s).
    assert result.one("kubernetes:helm.sh/v3:Release").inputs["timeout"] == 32 * 60


def property_path(path: str, key: str) -> str:
    """Pulumi's property path syntax: `a.b`, or `a["b/c"]` for keys that are not names."""
    if key.isidentifier():
        return f"{path}.{key}" if path else key
    return f'{path}["{key}"]'


def changed_paths(old: Any, new: Any, path: str = "") -> set[str]:
    """Input paths whose values differ between two registrations."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: set[str] = set()
        for key in old.keys() | new.keys():
            found |= changed_paths(old.get(key), new.get(key), property_path(path, key))
        return found
    return set() if old == new else {path}


def replaced(old: Any, new: Any, replace_on_changes: list[str]) -> bool:
    """The engine's decision: a change under a `replaceOnChanges` path replaces."""
    return any(change == p or change.startswith((p + ".", p + "["))
               for change in changed_paths(old, new) for p in replace_on_changes)


@pytest.mark.parametrize("type_token", [PROXY_GROUP, RECORDER])
def test_tag_change_replaces_the_device_resources(
        tmp_path: Path, type_token: str) -> None:
    first = run(tmp_path, args()).one(type_token)
    second = run(tmp_path, args(tags={"proxy": "tag:k8s-b", "proxy_group": "tag:k8s-api-b",
                                      "recorder": "tag:rec-b", "operator": "tag:k8s-operator"})
                 ).one(type_token)
    options = second.options
    assert options["replaceOnChanges"] == [
        "spec.tags", 'metadata.annotations["tailscale-cluster-access/operator-namespace"]']
    assert options["deleteBeforeReplace"] is True
    assert replaced(first.inputs, second.inputs, options["replaceOnChanges"])
    # A replica change is an update in place.
    third = run(tmp_path, args(proxy={"high_availability": True, "replicas": 3})).one(type_token)
    assert not replaced(first.inputs, third.inputs, options["replaceOnChanges"])


def test_a_new_operator_namespace_replaces_the_release_and_its_custom_resources(
        tmp_path: Path) -> None:
    """The release is replaced delete-first (its cluster-scoped objects would clash); that
    deletes its CRDs and every ProxyGroup and Recorder, so they are replaced with it."""
    first = run(tmp_path, args())
    second = run(tmp_path, args(operator={"namespace": "tailscale-b"}))
    release = second.one("kubernetes:helm.sh/v3:Release")
    assert release.options["deleteBeforeReplace"] is True
    assert first.one("kubernetes:helm.sh/v3:Release").inputs["namespace"] != \
        release.inputs["namespace"]
    for type_token in (PROXY_GROUP, RECORDER):
        old, new = first.one(type_token), second.one(type_token)
        assert new.options["deleteBeforeReplace"] is True
        assert replaced(old.inputs, new.inputs, new.options["replaceOnChanges"]), type_token


def deleted_before(state: ProgramRun, condemned: str) -> list[str]:
    """What the engine deletes before the delete-first replace of `condemned`, from the
    options in the state (pulumi/pulumi pkg/resource/deploy/step_generator.go:
    `calculateDependentReplacements` and `findDependentCascadeReplacements`): transitive
    dependents with a property dependency on a resource being replaced (at most: the engine
    then asks the provider's diff), and every resource whose `replaceWith` names it."""
    replace_set = {condemned}
    found: list[str] = []
    for resource in state.registrations:  # registration order is dependency order
        if not resource.custom or resource.urn in replace_set:
            continue
        feeds = {urn for urns in resource.property_dependencies.values() for urn in urns}
        if feeds & replace_set:
            replace_set.add(resource.urn)
            found.append(resource.urn)
    found += [r.urn for r in state.registrations
              if condemned in r.options.get("replaceWith", []) and r.urn not in found]
    return found


def test_a_new_operator_namespace_deletes_the_custom_resources_before_the_release(
        tmp_path: Path) -> None:
    """With only `depends_on`, Helm would uninstall the operator first: the ProxyGroup and the
    Recorder keep their finalizers and the uninstall waits until it times out."""
    first = run(tmp_path, args())
    second = run(tmp_path, args(operator={"namespace": "tailscale-b"}))
    release = second.one("kubernetes:helm.sh/v3:Release")
    assert release.options["deleteBeforeReplace"] is True
    before_release = deleted_before(first, first.one("kubernetes:helm.sh/v3:Release").urn)
    assert {first.one(PROXY_GROUP).urn, first.one(RECORDER).urn} <= set(before_release)
    for type_token in (PROXY_GROUP, RECORDER):
        # Recreated after the new release, which installs the CRDs again.
        assert release.urn in second.one(type_token).dependencies
    # The components carry no replaceWith of their own (a component has nothing to replace).
    components = [r for r in second.registrations if not r.custom]
    assert all("replaceWith" not in r.options for r in components)


@pytest.mark.parametrize(("duration", "seconds"), [
    ("31m", 1860), ("1h30m", 5400), ("90s", 90), ("1.5h", 5400), ("1500ms", 2), ("", None),
    ("ten minutes", None), ("5", None), ("5m junk", None)])
def test_a_custom_timeout_in_go_syntax_becomes_seconds(duration: str, seconds: int | None
                                                       ) -> None:
    assert duration_seconds(duration) == seconds


def test_no_custom_timeouts_leave_the_release_at_the_providers_default(tmp_path: Path) -> None:
    result = run(tmp_path, args(), options="depends_on=[outside]")
    assert "timeout" not in result.one("kubernetes:helm.sh/v3:Release").inputs


FLEET_PROGRAM = """
import pulumi
from pulumi_kubernetes.core import v1 as core
from tailscale_cluster_access import TailnetFleetPolicy

outside = core.Namespace("outside", metadata={"name": "outside"})
TailnetFleetPolicy("fleet", {"cluster_stacks": ["acme/p/gpu-000"], "base": "{}"},
    opts=pulumi.ResourceOptions(depends_on=pulumi.Output.from_input([outside]),
                                retain_on_delete=True,
                                custom_timeouts=pulumi.CustomTimeouts(update="20m")))
"""


def test_fleet_options_reach_the_policy(tmp_path: Path) -> None:
    program = tmp_path / "__main__.py"
    program.write_text(FLEET_PROGRAM)
    outputs = synthetic_fleet(1, project="acme/p")
    result = run_program(program, project="p", stack_name="s", config={}, preview=False,
                         program_mocks=StackReferenceMocks(outputs))
    outside = result.by_type("kubernetes:core/v1:Namespace")[0]
    acl = result.one("tailscale:index/acl:Acl")
    assert outside.urn in acl.dependencies
    assert acl.options.get("retainOnDelete") is True
    assert acl.options.get("customTimeouts") == {"create": "", "update": "20m", "delete": ""}


STANDALONE_RECORDER = """
import pulumi
from pulumi_kubernetes.helm import v3 as helm
from tailscale_cluster_access import SessionRecorder

release = helm.Release("operator", chart="tailscale-operator", namespace="tailscale")
SessionRecorder("r", {"namespace": "tailscale", "tags": ["tag:rec"]},
                opts=pulumi.ResourceOptions(replace_with=[release]))
"""


def run_standalone_recorder(tmp_path: Path) -> ProgramRun:
    program = tmp_path / "__main__.py"
    program.write_text(STANDALONE_RECORDER)
    return run_program(program, project="p", stack_name="s", config={}, preview=False)


def test_a_components_replace_with_goes_to_its_custom_resource(tmp_path: Path) -> None:
    run = run_standalone_recorder(tmp_path)
    release = run.one("kubernetes:helm.sh/v3:Release")
    assert run.one(RECORDER).options["replaceWith"] == [release.urn]
    assert "replaceWith" not in run.one(
        "tailscale-cluster-access:index:SessionRecorder").options
    assert deleted_before(run, release.urn) == [run.one(RECORDER).urn]


def test_a_cli_without_replace_with_gets_a_warning_not_a_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tailscale_cluster_access.resources import kube
    monkeypatch.setattr(kube, "monitor_supports_feature", lambda feature: False)
    run = run_standalone_recorder(tmp_path)
    assert "replaceWith" not in run.one(RECORDER).options
    warnings = [text for level, text in run.messages if level == "warning"]
    assert any("does not support `replaceWith` (needs 3.207.0" in text for text in warnings)
