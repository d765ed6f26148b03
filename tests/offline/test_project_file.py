"""Pulumi.yaml as the Pulumi CLI reads it (typed config, `pulumi new` template), and stack
files that import Pulumi ESC environments the offline plan cannot open."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import NAMESPACE, PROJECT_ROOT, STACKS, plan, stack_config
from tailscale_cluster_access import InvalidConfig, parse_spec

PROJECT = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())
PYTHON_TYPES = {"string": str, "boolean": bool, "integer": int}


def test_declared_config_is_typed_and_cluster_is_required() -> None:
    declared = PROJECT["config"]
    # Keys without a namespace are the project's own (`tailscale-cluster-access:<key>`).
    assert all(":" not in key for key in declared)
    assert declared["cluster"]["type"] == "string" and "default" not in declared["cluster"]
    for key, declaration in declared.items():
        assert declaration["type"] in PYTHON_TYPES, key
        assert declaration["description"], key
    config = {key: value for key, value in stack_config("dev").items() if key != "cluster"}
    with pytest.raises(InvalidConfig, match="cluster"):
        parse_spec(config)


def test_declared_defaults_are_the_programs_own() -> None:
    """Pulumi passes a declared default to the program; it must mean what leaving the key
    out means, or the offline plan (which reads only the stack file) would differ."""
    dev = stack_config("dev")
    for key, declaration in PROJECT["config"].items():
        if "default" in declaration and key not in dev:
            assert parse_spec({**dev, key: declaration["default"]}) == parse_spec(dev), key


@pytest.mark.parametrize("stack", STACKS)
def test_stack_values_have_the_declared_types(stack: str) -> None:
    config = stack_config(stack)
    for key, declaration in PROJECT["config"].items():
        if key in config:
            assert isinstance(config[key], PYTHON_TYPES[declaration["type"]]), (stack, key)


def test_pulumi_new_asks_for_the_required_keys() -> None:
    template = PROJECT["template"]
    assert template["description"]
    required = {key for key, declaration in PROJECT["config"].items()
                if "default" not in declaration}
    assert required <= set(template["config"])


def esc_stack(tmp_path: Path, environment: Any) -> Path:
    document = yaml.safe_load((PROJECT_ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    path = tmp_path / "Pulumi.esc.yaml"
    path.write_text(yaml.safe_dump({"environment": environment, **document}))
    return path


def test_a_plan_names_the_esc_environments_it_cannot_read(tmp_path: Path) -> None:
    config = esc_stack(tmp_path, ["tailscale-cluster-access/gpu-dev", "shared/tailscale"])
    code, _, err = plan(tmp_path / "plan", stack="esc", config=config)
    assert code == 0, err
    assert "tailscale-cluster-access/gpu-dev, shared/tailscale" in err
    summary = (tmp_path / "plan" / "summary.md").read_text()
    assert "Pulumi ESC environment(s) tailscale-cluster-access/gpu-dev, shared/tailscale" \
        in summary


def test_a_stack_file_without_environments_gets_no_esc_warning(tmp_path: Path) -> None:
    code, _, err = plan(tmp_path / "plan", stack="dev")
    assert code == 0 and "ESC" not in err


def test_an_environment_that_is_not_a_list_is_refused(tmp_path: Path) -> None:
    code, _, err = plan(tmp_path / "plan", stack="esc",
                        config=esc_stack(tmp_path, {"imports": "x"}))
    assert code == 2
    assert "`environment:` must list ESC environment names" in err
    assert not (tmp_path / "plan").exists()


def test_the_esc_example_is_imported_by_its_stack_file() -> None:
    example = PROJECT_ROOT / "examples" / "esc"
    environment = yaml.safe_load((example / "gpu-training.env.yaml").read_text())
    stack = yaml.safe_load((example / "Pulumi.gpu-training.yaml").read_text())
    assert stack["environment"] == ["tailscale-cluster-access/gpu-training"]
    assert {"kubernetes:kubeconfig", "tailscale:oauthClientId",
            "tailscale:oauthClientSecret"} <= set(environment["values"]["pulumiConfig"])
    assert f"{NAMESPACE}:cluster" in stack["config"]
