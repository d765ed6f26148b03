"""The JSON Schema and the config reference, generated from the spec: current, shipped, and
in agreement with the stack files and the reader."""

import ast
import copy
import inspect
import json
import typing
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from tailscale_cluster_access.core.config import schema
from tailscale_cluster_access.core.declare import arg_name, declared
from tailscale_cluster_access.core.parts import (
    FleetPolicyArgs,
    OperatorInstall,
    PolicyWrite,
    ProxyEndpoint,
    RecorderSettings,
    RoleBindingSet,
)
from tailscale_cluster_access.core.spec import (
    AccessRule,
    ClusterAccessSpec,
    OAuthSettings,
    OperatorSettings,
    PolicySettings,
    ProxySettings,
    RoleBinding,
    S3Storage,
    SessionRecording,
    Tags,
    WorkloadIdentity,
)

ROOT = Path(__file__).resolve().parents[3]
STACKS = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))


def validator(name: str) -> jsonschema.Draft202012Validator:
    document = json.loads((ROOT / "schema" / name).read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(document)


def test_committed_schemas_and_doc_tables_are_generated_from_the_spec() -> None:
    stale = [str(path.relative_to(ROOT)) for path, text in schema._outputs(ROOT).items()
             if not path.is_file() or path.read_text() != text]
    assert stale == [], "run: python -m tailscale_cluster_access.core.config.schema"


def test_the_schemas_ship_in_the_package() -> None:
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["tailscale_cluster_access"]
    assert "core/config/schemas/*.schema.json" in patterns
    for name in schema.SCHEMAS:
        assert (schema.PACKAGED / name).read_text() == (ROOT / "schema" / name).read_text()


def test_the_docs_embed_the_tables() -> None:
    assert schema.config_table() in (ROOT / "docs" / "configuration.md").read_text()
    fleet = schema.config_table(schema.TABLES["tailnet-config-table"])
    assert fleet in (ROOT / "docs" / "fleet.md").read_text()


@pytest.mark.parametrize("stack", STACKS, ids=lambda path: path.name)
def test_stack_files_validate_and_point_editors_at_the_schema(stack: Path) -> None:
    text = stack.read_text()
    assert text.startswith("# yaml-language-server: $schema=../schema/stack-config.schema.json")
    errors = list(validator("stack-config.schema.json").iter_errors(yaml.safe_load(text)))
    assert errors == []


def test_the_tailnet_stack_file_validates() -> None:
    document = yaml.safe_load((ROOT / "tailnet" / "stacks" / "Pulumi.fleet.yaml").read_text())
    assert list(validator("tailnet-stack-config.schema.json").iter_errors(document)) == []


@pytest.mark.parametrize("typo", [
    ("tailscale-cluster-access:clustr", "gpu"),
    ("tailscale-cluster-access:proxy", {"highAvailabilty": True}),
    ("tailscale-cluster-access:access", [{"src": ["a@example.com"],
                                          "kubernetes_groups": ["g"]}]),
    ("tailscale-cluster-access:proxy", {"mode": "noauht"}),
    ("tailscale-cluster-access:oauth", {"clientId": "[x](https://example.com)"}),
])
def test_a_typo_is_refused(typo: tuple[str, Any]) -> None:
    document = yaml.safe_load(STACKS[0].read_text())
    document = copy.deepcopy(document)
    key, value = typo
    document["config"][key] = value
    assert list(validator("stack-config.schema.json").iter_errors(document)) != []


def test_other_namespaces_belong_to_their_providers() -> None:
    document = yaml.safe_load(STACKS[0].read_text())
    document["config"]["tailscale:tailnet"] = "example.com"
    document["config"]["kubernetes:context"] = "kind"
    assert list(validator("stack-config.schema.json").iter_errors(document)) == []


# --- the args TypedDicts the provider reads (pulumi.provider.experimental parses their
# source): field names, requiredness and docstrings are the spec's ------------------------


def args_classes() -> dict[str, tuple[type, type]]:
    from tailscale_cluster_access import resources  # noqa: F401
    from tailscale_cluster_access.resources import (
        api_server_proxy,
        cluster_access,
        fleet_policy,
        operator,
        role_bindings,
        session_recorder,
        tailnet_policy,
    )

    return {
        "SecureClusterAccessArgs": (cluster_access.SecureClusterAccessArgs, ClusterAccessSpec),
        "TagsArgs": (cluster_access.TagsArgs, Tags),
        "OperatorArgs": (cluster_access.OperatorArgs, OperatorSettings),
        "ProxyArgs": (cluster_access.ProxyArgs, ProxySettings),
        "AccessRuleArgs": (cluster_access.AccessRuleArgs, AccessRule),
        "SessionRecordingArgs": (cluster_access.SessionRecordingArgs, SessionRecording),
        "PolicyArgs": (cluster_access.PolicyArgs, PolicySettings),
        "OAuthArgs": (cluster_access.OAuthArgs, OAuthSettings),
        "WorkloadIdentityArgs": (cluster_access.WorkloadIdentityArgs, WorkloadIdentity),
        "RoleBindingArgs": (role_bindings.RoleBindingArgs, RoleBinding),
        "ClusterRoleBindingsArgs": (role_bindings.ClusterRoleBindingsArgs, RoleBindingSet),
        "S3StorageArgs": (session_recorder.S3StorageArgs, S3Storage),
        "SessionRecorderArgs": (session_recorder.SessionRecorderArgs, RecorderSettings),
        "TailscaleOperatorArgs": (operator.TailscaleOperatorArgs, OperatorInstall),
        "ApiServerProxyArgs": (api_server_proxy.ApiServerProxyArgs, ProxyEndpoint),
        "TailnetPolicyArgs": (tailnet_policy.TailnetPolicyArgs, PolicyWrite),
        "TailnetFleetPolicyArgs": (fleet_policy.TailnetFleetPolicyArgs, FleetPolicyArgs),
    }


def docstrings(typed_dict: type) -> dict[str, str]:
    """Field -> docstring, read from the source as the provider's analyzer reads it."""
    [node] = ast.parse(inspect.getsource(typed_dict)).body
    assert isinstance(node, ast.ClassDef)
    found: dict[str, str] = {}
    for field, after in zip(node.body, [*node.body[1:], None], strict=True):
        if (isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)):
            found[field.target.id] = " ".join(str(after.value.value).split())
    return found


@pytest.mark.parametrize("name", sorted(args_classes()))
def test_args_typed_dicts_are_the_spec(name: str) -> None:
    typed_dict, spec = args_classes()[name]
    assert typing.is_typeddict(typed_dict)
    declarations = {arg_name(item, declaration): declaration
                    for item, declaration in declared(spec)}
    assert set(typed_dict.__annotations__) == set(declarations)
    required = {field for field, declaration in declarations.items()
                if declaration.required and not (name == "SecureClusterAccessArgs"
                                                 and field == "access")}
    assert set(typed_dict.__required_keys__) == required
    assert docstrings(typed_dict) == {field: schema.sentence(declaration.doc)
                                      for field, declaration in declarations.items()}
