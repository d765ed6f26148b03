"""What the spec declares, for people and editors: the JSON Schema of a stack file and the
config reference table, both generated from the declarations in core.spec.

    python -m tailscale_cluster_access.core.config.schema            # write both schemas
    python -m tailscale_cluster_access.core.config.schema --check    # exit 1 if out of date
    python -m tailscale_cluster_access.core.config.schema --table    # print the table
"""

import json
import sys
import typing
from pathlib import Path
from typing import Any, Literal

from ..declare import Key, config_name, declared
from ..parts import FleetStackConfig
from ..spec import ClusterAccessSpec
from .reader import hints, optional_spec

CLUSTER_NAMESPACE = "tailscale-cluster-access"
FLEET_NAMESPACE = "tailscale-cluster-access-tailnet"
# Shipped in the package (package data) and kept at a documented path of the repository.
PACKAGED = Path(__file__).resolve().parent / "schemas"
SCHEMAS = {"stack-config.schema.json": (ClusterAccessSpec, CLUSTER_NAMESPACE),
           "tailnet-stack-config.schema.json": (FleetStackConfig, FLEET_NAMESPACE)}

# A secret in a stack file: a plain string (warned about) or `secure: <ciphertext>`.
_SECRET = {"anyOf": [{"type": "string"},
                     {"type": "object", "properties": {"secure": {"type": "string"}},
                      "required": ["secure"], "additionalProperties": False}]}


def _type(annotation: Any, declaration: Key) -> dict[str, Any]:
    """The JSON Schema of one value as a stack file may write it."""
    if declaration.secret or declaration.passthrough:
        return dict(_SECRET)
    nested = optional_spec(annotation)
    if nested is not None or (isinstance(annotation, type) and hasattr(annotation,
                                                                        "__dataclass_fields__")):
        return object_schema(nested or annotation)
    origin = typing.get_origin(annotation)
    if origin is tuple:
        item = typing.get_args(annotation)[0]
        if hasattr(item, "__dataclass_fields__"):
            items = object_schema(item)
        else:
            items = _string(declaration)
        schema: dict[str, Any] = {"type": "array", "items": items}
        if declaration.required and not declaration.empty_ok:
            schema["minItems"] = 1
        return schema
    if origin is dict:
        names: dict[str, Any] = {"type": "string"}
        if declaration.key_pattern is not None:
            names["pattern"] = declaration.key_pattern.json_pattern
        return {"type": "object", "propertyNames": names,
                "additionalProperties": {"type": "array", "items": {"type": "string"}}}
    if origin is Literal:
        return {"enum": list(typing.get_args(annotation))}
    if annotation is bool:
        # `pulumi config set key true` stores the string "true".
        return {"anyOf": [{"type": "boolean"}, {"enum": ["true", "false"]}]}
    if annotation is int:
        number: dict[str, Any] = {"type": "integer"}
        if declaration.minimum is not None:
            number["minimum"] = declaration.minimum
        if declaration.maximum is not None:
            number["maximum"] = declaration.maximum
        return {"anyOf": [number, {"type": "string", "pattern": "^[0-9]{1,18}$"}]}
    return _string(declaration)


def _string(declaration: Key) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if declaration.pattern is not None:
        schema["pattern"] = declaration.pattern.json_pattern
    return schema


def _property(annotation: Any, item: Any, declaration: Key) -> dict[str, Any]:
    schema = {"description": declaration.doc, **_type(annotation, declaration)}
    if declaration.secret or declaration.passthrough:
        return schema
    default = declaration.default if declaration.default is not None else item.default
    if isinstance(default, (str, bool, int)) and default != "":
        schema["default"] = default
    return schema


def object_schema(cls: type) -> dict[str, Any]:
    properties = {config_name(item, declaration): _property(hints(cls)[item.name], item,
                                                            declaration)
                  for item, declaration in declared(cls)}
    required = [config_name(item, declaration) for item, declaration in declared(cls)
                if declaration.required]
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def stack_file_schema(cls: type, namespace: str) -> dict[str, Any]:
    """A `Pulumi.<stack>.yaml`: this project's keys as declared; other namespaces (providers)
    left to their owners; any other key in this namespace refused (a typo)."""
    config = object_schema(cls)
    config["properties"] = {f"{namespace}:{name}": schema
                            for name, schema in config["properties"].items()}
    config["required"] = [f"{namespace}:{name}" for name in config.get("required", [])]
    if not config["required"]:
        del config["required"]
    config["patternProperties"] = {f"^(?!{namespace}:)[^:]+:": {}}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://github.com/tailscale-cluster-access/schema/{namespace}.schema.json",
            "title": f"Pulumi stack file, namespace {namespace}",
            "type": "object",
            "properties": {"config": config}}


def schema_text(name: str) -> str:
    cls, namespace = SCHEMAS[name]
    return json.dumps(stack_file_schema(cls, namespace), indent=2, ensure_ascii=False) + "\n"


def sentence(doc: str) -> str:
    """A declaration's doc as an args docstring says it: one capitalised sentence."""
    text = " ".join(doc.split())
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


# --- the config reference table ----------------------------------------------------------


def _type_name(annotation: Any, declaration: Key) -> str:
    if declaration.secret:
        return "secret"
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{option}`" for option in typing.get_args(annotation))
    if origin is tuple:
        return "list"
    if origin is dict:
        return "map"
    if annotation is bool:
        return "bool"
    if annotation is int:
        bounds = f" ≥ {declaration.minimum}" if declaration.minimum is not None else ""
        return f"int{bounds}"
    if declaration.pattern is not None and declaration.pattern.what:
        return declaration.pattern.what
    return "string"


def _default_text(item: Any, declaration: Key) -> str:
    if declaration.default_doc:
        return declaration.default_doc
    if declaration.secret or declaration.passthrough:
        return "none"
    if declaration.required:
        return "required"
    default = item.default
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, int) or (isinstance(default, str) and default):
        return f"`{default}`"
    return "none"


def table_rows(cls: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    for item, declaration in declared(cls):
        annotation = hints(cls)[item.name]
        name = prefix + config_name(item, declaration)
        nested = optional_spec(annotation) or (
            annotation if hasattr(annotation, "__dataclass_fields__") else None)
        if nested is not None:
            rows += table_rows(nested, name + ".")
            continue
        element = (typing.get_args(annotation)[0] if typing.get_origin(annotation) is tuple
                   else None)
        if element is not None and hasattr(element, "__dataclass_fields__"):
            shape = ", ".join(config_name(i, d) + ("" if d.required else "?")
                              for i, d in declared(element))
            rows.append((f"`{name}`", "list", _default_text(item, declaration),
                         f"{declaration.doc}: `{{{shape}}}`"))
            continue
        rows.append((f"`{name}`", _type_name(annotation, declaration),
                     _default_text(item, declaration), declaration.doc))
    return rows


def config_table(cls: type = ClusterAccessSpec) -> str:
    """The config reference as a Markdown table (docs/ embeds it between markers)."""
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in table_rows(cls)]
    return "\n".join(lines) + "\n"


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"


TABLES = {"config-table": ClusterAccessSpec, "tailnet-config-table": FleetStackConfig}


def with_tables(document: str) -> str:
    """`document` with every generated table between its markers replaced by today's."""
    for name, cls in TABLES.items():
        start, end = _markers(name)
        head, found, rest = document.partition(start)
        if not found:
            continue
        _, found_end, tail = rest.partition(end)
        if not found_end:
            raise ValueError(f"{name}: start marker without end marker")
        document = head + start + config_table(cls) + end + tail
    return document


def _outputs(repository: Path) -> dict[Path, str]:
    texts = {name: schema_text(name) for name in SCHEMAS}
    files = {PACKAGED / name: text for name, text in texts.items()}
    files.update({repository / "schema" / name: text for name, text in texts.items()})
    for name in ("configuration.md", "fleet.md"):
        document = repository / "docs" / name
        if document.is_file():
            files[document] = with_tables(document.read_text(encoding="utf-8"))
    return files


def main(argv: list[str]) -> int:
    if "--table" in argv:
        sys.stdout.write(config_table())
        return 0
    repository = Path.cwd()
    stale = []
    for path, text in _outputs(repository).items():
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        stale.append(path)
        if "--check" not in argv:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'out of date' if '--check' in argv else 'wrote'}: {path}")
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
