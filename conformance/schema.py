"""Validate an object against a CRD version's OpenAPI v3 schema, the way the API server does.

Covered: defaults (applied first, like the API server), types (with nullable and
x-kubernetes-int-or-string), unknown fields (refused unless additionalProperties or
x-kubernetes-preserve-unknown-fields), required, enum, pattern, length/item/number bounds,
and CEL rules (x-kubernetes-validations) through cel-python. Transition rules (using
`oldSelf`) need the stored object, so they are reported as skipped. `metadata` at the root
is the API server's business and is only checked to be an object.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import celpy
import celpy.adapter
import celpy.celtypes
import celpy.evaluation

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float),
}
_OLD_SELF = re.compile(r"\boldSelf\b")


@dataclass
class Findings:
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    cel_rules: int = 0


def crd_schema(crd: Mapping[str, Any], version: str) -> dict[str, Any] | None:
    for entry in crd.get("spec", {}).get("versions", []):
        if entry.get("name") == version:
            schema = entry.get("schema", {}).get("openAPIV3Schema")
            return dict(schema) if isinstance(schema, Mapping) else None
    return None


def validate(obj: Mapping[str, Any], schema: Mapping[str, Any]) -> Findings:
    """Validate a copy of `obj` with the schema's defaults applied."""
    findings = Findings()
    value = apply_defaults(copy.deepcopy(dict(obj)), schema)
    _check(value, schema, "", findings, root=True)
    return findings


def apply_defaults(value: Any, schema: Mapping[str, Any]) -> Any:
    if isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                value[name] = apply_defaults(value[name], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            for name in value:
                value[name] = apply_defaults(value[name], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [apply_defaults(item, schema["items"]) for item in value]
    return value


def _type_ok(value: Any, schema: Mapping[str, Any]) -> bool:
    if value is None:
        return bool(schema.get("nullable"))
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, (int, str)) and not isinstance(value, bool)
    wanted = schema.get("type")
    if wanted is None:
        return True
    if isinstance(value, bool) and wanted != "boolean":
        return False
    return isinstance(value, _TYPES.get(wanted, (object,)))


def _check(value: Any, schema: Mapping[str, Any], path: str, out: Findings, *,
           root: bool = False) -> None:
    where = path or "<root>"
    if not _type_ok(value, schema):
        wanted = "int-or-string" if schema.get("x-kubernetes-int-or-string") else schema.get("type")
        out.errors.append(f"{where}: expected {wanted}, got {type(value).__name__} {value!r}")
        return
    if value is None:
        return
    if "enum" in schema and value not in schema["enum"]:
        out.errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        _check_string(value, schema, where, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.errors.append(f"{where}: {value} is less than the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            out.errors.append(f"{where}: {value} is more than the maximum {schema['maximum']}")
    elif isinstance(value, list):
        _check_array(value, schema, path, out)
    elif isinstance(value, dict):
        _check_object(value, schema, path, out, root=root)
    _check_cel(value, schema, where, out)


def _check_string(value: str, schema: Mapping[str, Any], where: str, out: Findings) -> None:
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        out.errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if "minLength" in schema and len(value) < schema["minLength"]:
        out.errors.append(f"{where}: shorter than {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        out.errors.append(f"{where}: longer than {schema['maxLength']}")


def _check_array(value: list[Any], schema: Mapping[str, Any], path: str, out: Findings) -> None:
    where = path or "<root>"
    if "minItems" in schema and len(value) < schema["minItems"]:
        out.errors.append(f"{where}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        out.errors.append(f"{where}: more than {schema['maxItems']} items")
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            _check(item, items, f"{path}[{index}]", out)


def _check_object(value: dict[str, Any], schema: Mapping[str, Any], path: str, out: Findings,
                  *, root: bool) -> None:
    where = path or "<root>"
    for name in schema.get("required") or []:
        if name not in value:
            out.errors.append(f"{where}: required field {name!r} is missing")
    properties: Mapping[str, Any] = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    for name, item in value.items():
        child = f"{path}.{name}" if path else name
        if root and name == "metadata":
            if not isinstance(item, dict):
                out.errors.append("metadata: expected object")
            continue
        if name in properties:
            _check(item, properties[name], child, out)
        elif isinstance(extra, Mapping):
            _check(item, extra, child, out)
        elif extra is True or preserve:
            continue
        else:
            out.errors.append(f"{child}: unknown field (the schema does not allow it)")


def _check_cel(value: Any, schema: Mapping[str, Any], where: str, out: Findings) -> None:
    for entry in schema.get("x-kubernetes-validations") or []:
        rule = str(entry.get("rule", ""))
        if _OLD_SELF.search(rule):
            out.skipped.append(f"{where}: transition rule {rule!r} (needs oldSelf)")
            continue
        out.cel_rules += 1
        message = entry.get("message") or f"failed rule {rule}"
        verdict = evaluate_rule(rule, value)
        if verdict is None:
            continue
        out.errors.append(f"{where}: {message}" if verdict == "false"
                          else f"{where}: rule {rule!r} did not evaluate: {verdict}")


def evaluate_rule(rule: str, value: Any) -> str | None:
    """None if the CEL rule holds for `self` = value, "false" if not, else the error text."""
    environment = celpy.Environment()
    try:
        program = environment.program(environment.compile(rule))
        result = program.evaluate({"self": celpy.adapter.json_to_cel(value)})
    except Exception as error:  # celpy raises parse and evaluation errors of several kinds
        return f"{type(error).__name__}: {error}"
    if isinstance(result, celpy.evaluation.CELEvalError):
        return f"CELEvalError: {result}"
    if not isinstance(result, (bool, celpy.celtypes.BoolType)):
        return f"rule returned {type(result).__name__}, not a bool"
    return None if bool(result) else "false"
