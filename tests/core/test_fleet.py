"""A fleet of clusters in one tailnet: per-cluster tags, the random hostname suffix, collision
checks, and the `tailnet` program merging the cluster stacks' fragments under the SDK mocks,
with StackReference outputs from really planned cluster configs."""

import copy
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from conftest import PROJECT_ROOT, run_config
from pulumi.runtime import mocks
from tailscale_cluster_access import InvalidConfig, parse_spec, plan_cluster
from tailscale_cluster_access.core.fleet import (
    FleetMember,
    cluster_stack_outputs,
    find_collisions,
    fleet_tags,
    member_from_outputs,
    parse_fleet_config,
    plan_fleet,
    synthetic_cluster_config,
    synthetic_fleet,
)
from tailscale_cluster_access.core.identifiers import DNS_LABEL, TAG
from tailscale_cluster_access.core.policy import hujson
from tailscale_cluster_access.core.policy.evaluate import acls_style, run_tests
from tailscale_cluster_access.core.policy.ownership import records, with_writer
from tailscale_cluster_access.core.spec import Tags
from tailscale_cluster_access.offline import PreviewMocks, ProgramRun, run_program
from tailscale_cluster_access.offline.fleet_runner import StackReferenceMocks, run_tailnet_program
from tailscale_cluster_access.resources.fleet_policy import CLUSTER_OUTPUTS

TAILNET = PROJECT_ROOT / "tailnet"
TAILNET_PROGRAM = TAILNET / "__main__.py"
TAILNET_NAMESPACE = "tailscale-cluster-access-tailnet"
CAPABILITY = "tailscale.com/cap/kubernetes"
ACL = "tailscale:index/acl:Acl"
PROXY_GROUP = "kubernetes:tailscale.com/v1alpha1:ProxyGroup"
RANDOM_STRING = "random:index/randomString:RandomString"


def fleet_stack_file() -> dict[str, Any]:
    document = yaml.safe_load((TAILNET / "stacks" / "Pulumi.fleet.yaml").read_text())
    prefix = f"{TAILNET_NAMESPACE}:"
    return {key[len(prefix):]: value for key, value in document["config"].items()}


def cluster_config(cluster: str, **changes: Any) -> dict[str, Any]:
    """A cluster stack of a fleet: per-cluster tags, fragment mode, groups in the base policy."""
    config: dict[str, Any] = {
        "cluster": cluster,
        "tagScheme": "per-cluster",
        "policy": {"manage": False},
        "access": [{"src": ["group:ml-engineers"], "kubernetesGroups": ["system:masters"]},
                   {"src": ["group:ml-readers"], "kubernetesGroups": ["tailnet-readers"]}],
    }
    config.update(changes)
    return config


def three_clusters() -> dict[str, dict[str, Any]]:
    """The three stacks Pulumi.fleet.yaml names: HA, in-process, HA with session recording."""
    stacks = fleet_stack_file()["clusters"]
    east, west, eu = (name.rsplit("/", 1)[1] for name in stacks)
    configs = [
        cluster_config(east, proxy={"highAvailability": True}),
        cluster_config(west, operator={"hostname": f"{west}-k8s"}),
        cluster_config(eu, proxy={"highAvailability": True},
                       sessionRecording={"enabled": True},
                       access=[{"src": ["group:ml-engineers"],
                                "kubernetesGroups": ["system:masters"], "recordSessions": True},
                               {"src": ["group:ml-readers"],
                                "kubernetesGroups": ["tailnet-readers"]}]),
    ]
    return dict(zip(stacks, configs, strict=True))


def stack_outputs(configs: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {stack: cluster_stack_outputs(plan_cluster(config, PROJECT_ROOT))
            for stack, config in configs.items()}


def run_tailnet(stacks: Mapping[str, Mapping[str, Any]], config: Mapping[str, Any] | None = None,
                *, preview: bool = False) -> tuple[ProgramRun, StackReferenceMocks]:
    program_mocks = StackReferenceMocks(stacks)
    run = run_tailnet_program(TAILNET_PROGRAM, program_mocks,
                              config if config is not None else fleet_stack_file(),
                              preview=preview)
    return run, program_mocks


def grants_to(policy: Mapping[str, Any], tag: str) -> list[dict[str, Any]]:
    return [g for g in policy["grants"] if g["dst"] == [tag] and "app" in g]


# --- per-cluster tags and the hostname suffix (cluster stack config) -------------------------


def test_fleet_tags_carry_the_cluster_name_and_stay_valid_tags() -> None:
    assert fleet_tags("gpu-east") == Tags(operator="tag:k8s-operator-gpu-east",
                                          proxy="tag:k8s-gpu-east",
                                          recorder="tag:tsrecorder-gpu-east",
                                          proxy_group="tag:k8s-apiserver-gpu-east")
    longest = "9" + "a" * 61 + "9"
    assert DNS_LABEL.match(longest)
    for name in ("gpu-east", "0gpu", longest):
        tags = fleet_tags(name)
        assert all(TAG.match(tag) for tag in (tags.operator, tags.proxy, tags.recorder,
                                                 tags.proxy_group))
    with pytest.raises(ValueError, match="not a cluster name"):
        fleet_tags("GPU_East")


def test_per_cluster_tag_scheme_changes_the_defaults_only() -> None:
    spec = parse_spec(cluster_config("gpu-east", proxy={"highAvailability": True}))
    assert spec.tags == fleet_tags("gpu-east")
    assert spec.endpoint_tag == "tag:k8s-apiserver-gpu-east"
    explicit = parse_spec(cluster_config("gpu-east", tags={"recorder": "tag:rec-east"}))
    assert explicit.tags.recorder == "tag:rec-east"
    assert explicit.tags.operator == "tag:k8s-operator-gpu-east"
    shared = parse_spec({"cluster": "gpu-east", "groups": {"group:ml-engineers": ["a@x.com"],
                                                           "group:ml-readers": ["b@x.com"]},
                         "policy": {"manage": False}})
    assert shared.tags == Tags()


def test_per_cluster_stack_tags_every_device_and_rule(tmp_path: Path) -> None:
    run = run_config(cluster_config("gpu-east", proxy={"highAvailability": True}), stack="east",
                     preview=False)
    assert not run.by_type(ACL), "fragment mode must not write the policy"
    oauth = run.one("tailscale:index/oauthClient:OauthClient")
    assert oauth.inputs["tags"] == ["tag:k8s-operator-gpu-east"]
    assert run.one(PROXY_GROUP).inputs["spec"]["tags"] == ["tag:k8s-apiserver-gpu-east"]
    fragment = hujson.parse(run.outputs["policyFragment"]).data
    assert set(fragment["tagOwners"]) == {"tag:k8s-operator-gpu-east", "tag:k8s-gpu-east",
                                          "tag:tsrecorder-gpu-east",
                                          "tag:k8s-apiserver-gpu-east"}
    assert "tag:k8s" not in json.dumps(fragment).replace("tag:k8s-", "")


def test_bad_tag_scheme_and_suffix_are_reported_together() -> None:
    with pytest.raises(InvalidConfig) as caught:
        parse_spec(cluster_config("gpu-east", tagScheme="fleet",
                                  proxy={"hostnameSuffix": "rand"}))
    keys = [p.key for p in caught.value.problems]
    assert "tagScheme" in keys and "proxy.hostnameSuffix" in keys
    text = caught.value.render()
    assert '"per-cluster"' in text and '"random"' in text


def test_hostname_suffix_needs_the_proxy_group_and_room() -> None:
    with pytest.raises(InvalidConfig) as caught:
        parse_spec(cluster_config("gpu-pr-7", proxy={"hostnameSuffix": "random"}))
    assert [(p.key, p.message) for p in caught.value.problems] == [
        ("proxy.hostnameSuffix", "only applies to the high-availability ProxyGroup.")]

    ha = {"highAvailability": True, "hostnameSuffix": "random"}
    assert parse_spec(cluster_config("a" * 45, proxy=ha)).proxy.hostname_suffix == "random"
    with pytest.raises(InvalidConfig) as caught:
        parse_spec(cluster_config("a" * 46, proxy=ha))
    (problem,) = caught.value.problems
    assert problem.key == "cluster" and "46 characters" in problem.message
    assert "kubernetes#64023" in problem.message and "at most 45" in str(problem.fix)


def test_proxy_group_name_stays_within_52_characters() -> None:
    ha = {"highAvailability": True}
    assert parse_spec(cluster_config("gpu", proxy={**ha, "hostname": "b" * 52}))
    with pytest.raises(InvalidConfig) as caught:
        parse_spec(cluster_config("gpu", proxy={**ha, "hostname": "b" * 53}))
    (problem,) = caught.value.problems
    assert problem.key == "proxy.hostname" and "controller-revision-hash" in problem.message
    assert "kubernetes#64023" in problem.message
    with pytest.raises(InvalidConfig) as caught:
        parse_spec(cluster_config("gpu", proxy={**ha, "hostname": "b" * 60}))
    assert [p.key for p in caught.value.problems] == ["proxy.hostname"]


class RandomMocks(PreviewMocks):
    """Like `pulumi up`: the random provider draws a value."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == RANDOM_STRING:
            return "suffix", {**args.inputs, "result": "k3x9qa"}
        return super().new_resource(args)


def suffix_program(tmp_path: Path, suffix: str) -> Path:
    program = tmp_path / "__main__.py"
    program.write_text(
        "import pulumi\n"
        "from tailscale_cluster_access.resources.api_server_proxy import ApiServerProxy\n"
        "proxy = ApiServerProxy('gpu-pr-7-proxy', {'high_availability': True,\n"
        "    'hostname': 'gpu-pr-7', 'tags': ['tag:k8s-gpu-pr-7'],\n"
        f"    'hostname_suffix': {suffix!r}, 'tailnet_domain': 'tailxyz.ts.net'}})\n"
        "pulumi.export('hostname', proxy.hostname)\n"
        "pulumi.export('kubeconfig', proxy.kubeconfig_command)\n")
    return program


def test_random_suffix_is_stable_per_stack_and_names_the_proxy_group(tmp_path: Path) -> None:
    program = suffix_program(tmp_path, "random")
    run = run_program(program, project="p", stack_name="pr-7", config={}, preview=False,
                      program_mocks=RandomMocks())
    random = run.one(RANDOM_STRING)
    assert random.inputs == {"length": 6, "lower": True, "upper": False, "numeric": True,
                             "special": False, "keepers": {"stack": "pr-7"}}
    group = run.one(PROXY_GROUP)
    assert group.inputs["metadata"]["name"] == "gpu-pr-7-k3x9qa"
    assert group.inputs["spec"]["kubeAPIServer"]["hostname"] == "gpu-pr-7-k3x9qa"
    assert DNS_LABEL.match("a" * 45 + "-k3x9qa")
    assert random.urn in group.dependencies
    assert run.outputs == {
        "hostname": "gpu-pr-7-k3x9qa",
        "kubeconfig": "tailscale configure kubeconfig https://gpu-pr-7-k3x9qa.tailxyz.ts.net"}

    previewed = run_program(program, project="p", stack_name="pr-7", config={}, preview=True)
    assert previewed.outputs["hostname"] == previewed.outputs["kubeconfig"]
    plain = run_program(suffix_program(tmp_path, "none"), project="p", stack_name="pr-7", config={},
                        preview=False)
    assert not plain.by_type(RANDOM_STRING)
    assert plain.one(PROXY_GROUP).inputs["metadata"]["name"] == "gpu-pr-7"


def test_cluster_stack_with_a_random_suffix() -> None:
    config = cluster_config("gpu-pr-7", proxy={"highAvailability": True,
                                               "hostnameSuffix": "random"})
    run = run_config(config, stack="pr-7", preview=False, program_mocks=RandomMocks())
    assert run.one(PROXY_GROUP).inputs["spec"]["kubeAPIServer"]["hostname"] == "gpu-pr-7-k3x9qa"
    assert run.outputs["proxyHostname"] == run.outputs["fleetIdentity"]["hostname"]
    assert run.outputs["proxyHostname"] == "gpu-pr-7-k3x9qa"


def test_without_a_suffix_pulumi_random_is_not_imported() -> None:
    code = ("import sys, tailscale_cluster_access.resources.api_server_proxy, "
            "tailscale_cluster_access.resources.fleet_policy; "
            "print('pulumi_random' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


# --- collisions and the fleet plan (pure) ----------------------------------------------------


def member(cluster: str, tags: Tags, hostname: str = "", manages: bool = False) -> FleetMember:
    return FleetMember(stack=f"acme/p/{cluster}", cluster=cluster, tags=tags,
                       endpoint_tag=tags.proxy, hostname=hostname or cluster,
                       manages_policy=manages, fragment="{}", access=())


def test_shared_tags_collide_and_the_fix_is_per_cluster_tags() -> None:
    problems = find_collisions([member("gpu-a", Tags()), member("gpu-b", Tags())])
    assert len(problems) == 3
    for problem, tag in zip(problems, ("tag:k8s-operator", "tag:k8s", "tag:tsrecorder"),
                            strict=True):
        assert f'"{tag}" is a tag of several clusters' in problem.message
        assert "gpu-a" in problem.message and "gpu-b" in problem.message
        assert "tagScheme: per-cluster" in problem.fix
    assert find_collisions([member("gpu-a", fleet_tags("gpu-a")),
                            member("gpu-b", fleet_tags("gpu-b"))]) == []


def test_one_clusters_proxy_tag_as_anothers_operator_tag_collides() -> None:
    crossed = Tags(operator="tag:k8s-gpu-a", proxy="tag:k8s-b", recorder="tag:rec-b")
    (problem,) = find_collisions([member("gpu-a", fleet_tags("gpu-a")), member("gpu-b", crossed)])
    assert "gpu-a (proxy), gpu-b (operator)" in problem.message


def test_hostnames_cluster_names_and_policy_writers_collide() -> None:
    problems = find_collisions([
        member("gpu-a", fleet_tags("gpu-a"), hostname="tailscale-operator"),
        member("gpu-b", fleet_tags("gpu-b"), hostname="tailscale-operator", manages=True),
    ])
    text = "\n".join(p.render() for p in problems)
    assert "writes the tailnet policy itself" in text and "acme/p/gpu-b" in text
    assert 'all serve kubectl as "tailscale-operator"' in text
    assert "operator.hostname" in text
    twins = [member("gpu-a", fleet_tags("gpu-a")),
             FleetMember("acme/q/gpu-a", "gpu-a", fleet_tags("gpu-x"), "tag:k8s-gpu-x", "x",
                         False, "{}", ())]
    assert any('call their cluster "gpu-a"' in p.message for p in find_collisions(twins))


def test_missing_outputs_name_the_stack_and_the_output() -> None:
    found, problems = member_from_outputs("acme/p/old", {"policyFragment": "{}",
                                                         "accessMatrix": []})
    assert found is None
    assert [p.render() for p in problems] == [
        "stack acme/p/old: has no usable output fleetIdentity. Fix: update the cluster stack to "
        "this version of tailscale-cluster-access and run `pulumi up` in it (`pulumi stack "
        "output --stack acme/p/old` shows what it exports)."]
    _, problems = member_from_outputs("acme/p/never", {})
    assert "has no outputs" in problems[0].message


def test_three_clusters_merge_into_one_policy() -> None:
    configs = three_clusters()
    base = (TAILNET / "policy" / "base.hujson").read_text()
    plan = plan_fleet(list(stack_outputs(configs).items()), base)
    policy = hujson.parse(plan.policy).data
    assert plan.clusters == [c["cluster"] for c in configs.values()]
    for config in configs.values():
        cluster = config["cluster"]
        spec = parse_spec(config)
        tags = fleet_tags(cluster)
        assert policy["tagOwners"][tags.proxy] == [tags.operator]
        assert len(grants_to(policy, spec.endpoint_tag)) == len(spec.access)
        rows = [row for row in plan.access if row["cluster"] == cluster]
        assert {row["src"] for row in rows if row["kind"] == "grant"} == {
            "group:ml-engineers", "group:ml-readers"}
        # Each cluster's operator may impersonate anyone in it: its own row.
        assert [row["kind"] for row in rows].count("operator") == 1
        assert {row["endpoint"] for row in rows} == {spec.endpoint_hostname}
    # The base policy's groups and other rules survive.
    assert policy["groups"]["group:ml-readers"] == ["bob@example.com", "carol@example.com"]
    assert policy["acls"][0]["dst"] == ["autogroup:self:*"]


def test_a_group_only_some_stack_defines_is_fine_but_an_undefined_one_is_not() -> None:
    configs = three_clusters()
    with pytest.raises(InvalidConfig) as caught:
        plan_fleet(list(stack_outputs(configs).items()))
    text = caught.value.render()
    assert '"group:ml-engineers" is used but not defined in groups' in text
    assert '"group:ml-readers" is used but not defined in groups' in text


def test_clusters_defining_a_group_differently_are_named() -> None:
    configs = three_clusters()
    first, second, _ = configs
    configs[first]["groups"] = {"group:ml-readers": ["bob@example.com"],
                                "group:ml-engineers": ["alice@example.com"]}
    configs[second]["groups"] = {"group:ml-readers": ["bob@example.com", "eve@example.com"]}
    base = '{"groups": {"group:ml-engineers": ["alice@example.com"]}}'
    with pytest.raises(InvalidConfig) as caught:
        plan_fleet(list(stack_outputs(configs).items()), base)
    (problem,) = caught.value.problems
    assert "gpu-east" in problem.message and "gpu-west" in problem.message
    assert 'groups["group:ml-readers"]' in problem.message


def test_fifty_synthetic_clusters_plan_and_merge() -> None:
    fleet = synthetic_fleet(50)
    plan = plan_fleet(list(fleet.items()))
    policy = hujson.parse(plan.policy).data
    assert len(plan.clusters) == len(set(plan.clusters)) == 50
    high_availability = sum(parse_spec(synthetic_cluster_config(i)).proxy.high_availability
                            for i in range(50))
    # Three tags per cluster, and the ProxyGroup's own tag where there is one.
    assert len(policy["tagOwners"]) == 150 + high_availability
    for index in range(50):
        config = synthetic_cluster_config(index)
        spec = parse_spec(config)
        assert len(grants_to(policy, spec.endpoint_tag)) == len(spec.access)
        assert sum(row["cluster"] == spec.cluster and row["kind"] == "grant"
                   for row in plan.access) == 3
    # The shared groups appear once; every team group is there.
    assert len(policy["groups"]) == 52
    recorded = [row for row in plan.access if row["recorded"]]
    assert {row["cluster"] for row in recorded} == {f"gpu-{i:03d}" for i in range(0, 50, 3)}


def test_fleet_config_problems_are_listed_at_once(tmp_path: Path) -> None:
    raw = {"clusters": ["acme/p/gpu-a", "acme/p/gpu-a", "no spaces allowed"],
           "policy": {"adoptExisting": True, "bsae": "x.hujson"}, "cluster": "gpu",
           "pendingClusters": ["GPU_North"]}
    with pytest.raises(InvalidConfig) as caught:
        parse_fleet_config(raw, tmp_path, prefix=f"{TAILNET_NAMESPACE}:")
    keys = sorted(p.key for p in caught.value.problems)
    # Without policy.base the fleet would replace the whole tailnet policy.
    assert keys == ["cluster", "clusters[1]", "clusters[2]", "pendingClusters[0]",
                    "policy.adoptExisting", "policy.base", "policy.bsae"]
    assert caught.value.render().count(f"{TAILNET_NAMESPACE}:") == 7
    with pytest.raises(InvalidConfig, match="clusters: is required"):
        parse_fleet_config({}, tmp_path)


# --- the tailnet program under the SDK mocks -------------------------------------------------


def test_cluster_stack_really_exports_what_the_fleet_reads() -> None:
    """The mocked StackReference outputs equal the cluster program's real exports."""
    for config in three_clusters().values():
        run = run_config(config, stack=config["cluster"], preview=False)
        expected = cluster_stack_outputs(plan_cluster(config, PROJECT_ROOT))
        assert {key: run.outputs[key] for key in expected} == expected


def test_tailnet_program_writes_one_policy_for_three_clusters() -> None:
    configs = three_clusters()
    run, program_mocks = run_tailnet(stack_outputs(configs))
    assert sorted(program_mocks.read) == sorted(configs)
    acl = run.one(ACL)
    assert acl.inputs["overwriteExistingContent"] is False
    assert acl.inputs["resetAclOnDestroy"] is False
    assert acl.inputs["acl"] == run.outputs["policy"]
    policy = hujson.parse(run.outputs["policy"]).data
    for config in configs.values():
        spec = parse_spec(config)
        tags = fleet_tags(spec.cluster)
        assert policy["tagOwners"][tags.operator] == []
        assert policy["tagOwners"][tags.proxy] == [tags.operator]
        grants = grants_to(policy, spec.endpoint_tag)
        assert sorted(g["app"][CAPABILITY][0]["impersonate"]["groups"][0] for g in grants) == \
            ["system:masters", "tailnet-readers"]
    eu = fleet_tags("gpu-eu")
    assert policy["tagOwners"][eu.recorder] == [eu.operator]
    eu_endpoint = parse_spec(configs[list(configs)[2]]).endpoint_tag
    recorded = [g for g in grants_to(policy, eu_endpoint) if "recorder" in g["app"][CAPABILITY][0]]
    assert recorded[0]["app"][CAPABILITY][0]["recorder"] == [eu.recorder]
    assert run.outputs["clusters"] == ["gpu-east", "gpu-west", "gpu-eu"]
    matrix = run.outputs["accessMatrix"]
    assert {(row["cluster"], row["endpoint"]) for row in matrix} == {
        ("gpu-east", "gpu-east"), ("gpu-west", "gpu-west-k8s"), ("gpu-eu", "gpu-eu")}
    assert len([row for row in matrix if row["kind"] == "grant"]) == 6


def test_tailnet_preview_previews_the_same_policy() -> None:
    stacks = stack_outputs(three_clusters())
    previewed, _ = run_tailnet(stacks, preview=True)
    updated, _ = run_tailnet(stacks, preview=False)
    assert previewed.one(ACL).inputs["acl"] == updated.one(ACL).inputs["acl"]


LEGACY_FLEET_BASE = """// Other teams' rules, in the legacy acls syntax.
{
	"groups": {
		"group:ml-engineers": ["alice@example.com"],
		"group:ml-readers": ["bob@example.com"],
	},
	"acls": [{"action": "accept", "users": ["autogroup:member"], "ports": ["autogroup:self:*"]}],
}
"""


@pytest.mark.parametrize("legacy", [False, True], ids=["base", "legacy base"])
def test_the_tailnet_program_writes_the_policy_its_plan_verified(legacy: bool,
                                                                  tmp_path: Path) -> None:
    config = fleet_stack_file()
    base_text = (TAILNET / config["policy"]["base"]).read_text()
    if legacy:
        base_text = LEGACY_FLEET_BASE
        (tmp_path / "legacy.hujson").write_text(base_text)
        config["policy"] = {**config["policy"], "base": str(tmp_path / "legacy.hujson")}
    stacks = stack_outputs(three_clusters())
    plan = plan_fleet(list(stacks.items()), base_text)
    run, _ = run_tailnet(stacks, config)
    written = run.one(ACL).inputs["acl"]
    # The verified policy, its ownership lines naming the tailnet stack that writes it.
    (writer,) = records(written)
    assert writer.startswith("organization/")
    assert written == with_writer(plan.policy, writer)
    data = hujson.parse(written).data
    assert data == plan.merged
    # Tailscale refuses an acls list that mixes users/ports with src/dst entries.
    assert acls_style(data) == ("legacy" if legacy else "new")
    assert run_tests(data).ok


def test_two_clusters_with_the_guide_tags_fail_with_every_collision() -> None:
    configs = three_clusters()
    first, second, _ = configs
    for stack in (first, second):
        configs[stack].pop("tagScheme")
    with pytest.raises(pulumi.RunError) as caught:
        run_tailnet(stack_outputs(configs))
    text = str(caught.value)
    assert text.startswith("Invalid fleet 'fleet' (3 problems); nothing was changed:")
    for tag in ("tag:k8s-operator", "tag:k8s", "tag:tsrecorder"):
        assert f'"{tag}" is a tag of several clusters' in text
    assert "gpu-east" in text and "gpu-west" in text and "gpu-eu" not in text
    assert "tagScheme: per-cluster" in text


def test_a_cluster_stack_that_writes_the_policy_or_is_missing_fails() -> None:
    configs = three_clusters()
    first, _, third = configs
    configs[first]["policy"] = {"manage": True, "base": "tailnet/policy/base.hujson"}
    stacks = stack_outputs(configs)
    del stacks[third]
    with pytest.raises(pulumi.RunError) as caught:
        run_tailnet(stacks)
    text = str(caught.value)
    assert f"stack {first}: writes the tailnet policy itself" in text
    assert f"stack {third}: has no outputs" in text


def test_tailnet_config_errors_stop_before_anything_is_registered() -> None:
    config = copy.deepcopy(fleet_stack_file())
    config["clusters"] = []
    config["policy"]["base"] = "missing.hujson"
    with pytest.raises(pulumi.RunError) as caught:
        run_tailnet({}, config)
    text = str(caught.value)
    assert f"{TAILNET_NAMESPACE}:clusters: must not be empty" in text
    assert f'{TAILNET_NAMESPACE}:policy.base: "missing.hujson" does not exist' in text


def test_tailnet_program_with_fifty_clusters() -> None:
    fleet = synthetic_fleet(50)
    empty_base = Path(__file__).with_name("fixtures") / "empty-policy.hujson"
    config = {"clusters": list(fleet), "policy": {"base": str(empty_base)}}
    run, program_mocks = run_tailnet(fleet, config)
    assert len(program_mocks.read) == 50
    policy = hujson.parse(run.one(ACL).inputs["acl"]).data
    assert len(policy["tagOwners"]) == 150 + sum(
        parse_spec(synthetic_cluster_config(i)).proxy.high_availability for i in range(50))
    assert len({row["cluster"] for row in run.outputs["accessMatrix"]}) == 50


# --- adding a cluster: its tags exist before its stack's first `pulumi up` -------------------


def test_pending_cluster_gets_its_tags_but_no_access() -> None:
    configs = three_clusters()
    *deployed, (new_stack, new_config) = configs.items()
    base = (TAILNET / "policy" / "base.hujson").read_text()
    plan = plan_fleet(list(stack_outputs(dict(deployed)).items()), base,
                      pending=[new_config["cluster"]])
    policy = hujson.parse(plan.policy).data
    tags = fleet_tags(new_config["cluster"])
    assert policy["tagOwners"][tags.operator] == []
    assert policy["tagOwners"][tags.proxy] == [tags.operator]
    # Its ProxyGroup's Tailscale Service can be approved, so an HA proxy becomes ready.
    assert policy["autoApprovers"]["services"][tags.proxy_group] == [tags.proxy_group]
    assert tags.proxy not in json.dumps(policy["grants"])
    assert new_config["cluster"] not in {row["cluster"] for row in plan.access}

    with pytest.raises(InvalidConfig) as caught:
        plan_fleet(list(stack_outputs(configs).items()), base,
                   pending=[new_config["cluster"], "gpu"])
    text = caught.value.render()
    assert f'pendingClusters[0]: "{new_config["cluster"]}" is deployed already ({new_stack}' in text


def test_a_new_fleet_bootstraps_through_pending_clusters() -> None:
    """tailnet stack (pending) -> cluster stack's first run -> tailnet stack (deployed)."""
    configs = three_clusters()
    first_stack, first = next(iter(configs.items()))
    config = {"pendingClusters": [first["cluster"]],
              "policy": fleet_stack_file()["policy"]}
    before, _ = run_tailnet({}, config)
    owned = set(hujson.parse(before.one(ACL).inputs["acl"]).data["tagOwners"])

    cluster_run = run_config(first, stack=first["cluster"], preview=False)
    oauth = cluster_run.one("tailscale:index/oauthClient:OauthClient")
    assert set(oauth.inputs["tags"]) <= owned
    assert set(cluster_run.one(PROXY_GROUP).inputs["spec"]["tags"]) <= owned

    exported = {key: cluster_run.outputs[key] for key in CLUSTER_OUTPUTS}
    after, _ = run_tailnet({first_stack: exported},
                           {**config, "pendingClusters": [], "clusters": [first_stack]})
    policy = hujson.parse(after.one(ACL).inputs["acl"]).data
    assert set(policy["tagOwners"]) == owned
    assert grants_to(policy, parse_spec(first).endpoint_tag)


def test_a_base_with_old_style_capitalised_keys_is_read_like_tailscale_reads_it() -> None:
    base = ('{"Groups": {"group:sre": ["carol@example.com"]},'
            ' "TagOwners": {"tag:ci": ["group:sre"]},'
            ' "ACLs": [{"action": "accept", "src": ["group:sre"], "dst": ["tag:ci:22"]}]}')
    plan = plan_fleet(sorted(synthetic_fleet(2, project_root=PROJECT_ROOT).items()), base)
    policy = hujson.parse(plan.policy).data
    assert {"Groups", "TagOwners", "ACLs"} <= set(policy)
    assert not {"groups", "tagOwners", "acls"} & set(policy)
    assert "group:ml-engineers" in policy["Groups"]
