"""The GitHub workflows keep their security properties (see README "In pull requests")."""

import re
from pathlib import Path

import yaml

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def load(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # PyYAML reads the key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def steps(document: dict) -> list[dict]:
    return [step for job in document["jobs"].values() for step in job["steps"]]


def test_every_action_is_pinned_to_a_commit_with_its_version():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.match(r"^\s*(-\s+)?uses:", line):
                assert PINNED.match(line), f"{path.name}: {line.strip()}"


def test_permissions_are_per_job_and_checkouts_keep_no_token():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        document = load(path.name)
        assert document["permissions"] == {}, path.name
        for job in document["jobs"].values():
            assert "permissions" in job, path.name
        for step in steps(document):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, path.name


def test_pull_request_code_runs_read_only():
    plan = load("plan.yml")
    assert set(plan["on"]) == {"pull_request"}
    assert plan["jobs"]["plan"]["permissions"] == {"contents": "read"}
    assert "secrets." not in (WORKFLOWS / "plan.yml").read_text(encoding="utf-8")


def test_commenter_runs_only_base_branch_code_and_reads_the_artifact_as_data():
    comment = load("plan-comment.yml")
    assert comment["on"]["workflow_run"] == {"workflows": ["plan"], "types": ["completed"]}
    job = comment["jobs"]["comment"]
    assert job["permissions"]["pull-requests"] == "write"
    for step in job["steps"]:
        assert "ref" not in step.get("with", {}), "never check out the pull request"
        run = step.get("run", "")
        assert "make " not in run and "pip " not in run and ".venv" not in run
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert "python3 .github/scripts/plan_comment.py" in script
    assert '"$actual" != "$HEAD_SHA"' in script


def test_preview_uses_an_environment_oidc_and_no_comment():
    text = (WORKFLOWS / "preview.yml").read_text(encoding="utf-8")
    assert "toJSON(secrets)" not in text and "secrets[" not in text
    job = load("preview.yml")["jobs"]["preview"]
    assert job["environment"] == "preview"
    assert job["permissions"]["id-token"] == "write"
    uses = [step.get("uses", "") for step in job["steps"]]
    assert any(use.startswith("pulumi/auth-actions@") for use in uses)
    pulumi = next(
        step for step in job["steps"] if step.get("uses", "").startswith("pulumi/actions@")
    )
    assert pulumi["with"]["comment-on-pr"] is False


def test_preview_runs_the_policy_pack_with_its_dependencies():
    job = load("preview.yml")["jobs"]["preview"]
    pulumi = next(
        step for step in job["steps"] if step.get("uses", "").startswith("pulumi/actions@")
    )
    assert pulumi["with"]["policyPacks"] == "policy-pack"
    install = next(step["run"] for step in job["steps"] if "pip install" in step.get("run", ""))
    _, _, in_pack_folder = install.partition("cd policy-pack")
    assert "-r requirements.txt" in in_pack_folder


def test_deploy_through_the_tailnet_is_off_by_default_and_uses_workload_identity():
    deploy = load("deploy-through-tailnet.yml")
    assert set(deploy["on"]) == {"workflow_dispatch"}
    job = deploy["jobs"]["deploy"]
    assert job["if"] == "vars.PULUMI_DEPLOY_THROUGH_TAILNET == 'true'"
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    (join,) = [s for s in job["steps"] if s.get("uses", "").startswith("tailscale/github-action@")]
    # A federated identity: client ID and audience, no stored OAuth secret or auth key.
    assert set(join["with"]) == {"oauth-client-id", "audience", "tags"}
    assert join["with"]["tags"] == "tag:ci"
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert "pulumi stack output deployKubeconfig" in script
    assert 'KUBECONFIG=$RUNNER_TEMP/kubeconfig' in script
    (up,) = [s for s in job["steps"] if s.get("with", {}).get("command") == "up"]
    assert job["steps"].index(join) < job["steps"].index(up)
