"""The OpenAPI v3 + CEL validator on small schemas."""

from typing import Any

import pytest

from conformance.schema import evaluate_rule, validate

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["type"],
            "x-kubernetes-validations": [
                {"rule": "!(self.replicas > 1 && !has(self.storage))",
                 "message": "storage needed for replicas"},
                {"rule": "self.type == oldSelf.type", "message": "immutable"}],
            "properties": {
                "type": {"type": "string", "enum": ["a", "b"]},
                "replicas": {"type": "integer", "minimum": 0, "default": 1},
                "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
                "port": {"x-kubernetes-int-or-string": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "storage": {"type": "object", "nullable": True,
                            "properties": {"s3": {"type": "object"}}},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
            },
        },
    },
}


def errors(spec: Any, **top: Any) -> list[str]:
    return validate({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "n", "uid": 1},
                     "spec": spec, **top}, SCHEMA).errors


def test_valid_object():
    findings = validate({"spec": {"type": "a", "replicas": 3, "storage": {"s3": {}},
                                  "port": "http", "labels": {"a": "b"},
                                  "free": {"anything": [1]}, "tags": ["x"]}}, SCHEMA)
    assert findings.errors == []
    assert findings.cel_rules == 1
    assert findings.skipped == ["spec: transition rule 'self.type == oldSelf.type' (needs oldSelf)"]


@pytest.mark.parametrize(("spec", "error"), [
    ({}, "spec: required field 'type' is missing"),
    ({"type": "c"}, "spec.type: 'c' is not one of ['a', 'b']"),
    ({"type": "a", "replicas": "2"}, "spec.replicas: expected integer, got str '2'"),
    ({"type": "a", "replicas": True}, "spec.replicas: expected integer, got bool True"),
    ({"type": "a", "replicas": -1}, "spec.replicas: -1 is less than the minimum 0"),
    ({"type": "a", "name": "Ab"}, "spec.name: 'Ab' does not match ^[a-z]+$"),
    ({"type": "a", "name": "abcdef"}, "spec.name: longer than 5"),
    ({"type": "a", "port": 1.5}, "spec.port: expected int-or-string, got float 1.5"),
    ({"type": "a", "labels": {"a": 1}}, "spec.labels.a: expected string, got int 1"),
    ({"type": "a", "tags": ["a", "b", "c"]}, "spec.tags: more than 2 items"),
    ({"type": "a", "tags": [1]}, "spec.tags[0]: expected string, got int 1"),
    ({"type": "a", "extra": 1}, "spec.extra: unknown field (the schema does not allow it)"),
    ({"type": "a", "replicas": 2}, "spec: storage needed for replicas"),
])
def test_invalid_objects(spec, error):
    assert error in errors(spec)


def test_missing_spec_and_unknown_top_level_field():
    found = validate({"status": {}}, SCHEMA).errors
    assert "<root>: required field 'spec' is missing" in found
    assert "status: unknown field (the schema does not allow it)" in found


def test_defaults_apply_before_rules():
    # replicas defaults to 1, so the CEL rule sees it and holds.
    assert errors({"type": "a"}) == []


def test_nullable():
    assert errors({"type": "a", "storage": None}) == []
    assert errors({"type": None}) == ["spec.type: expected string, got NoneType None"]


@pytest.mark.parametrize(("rule", "value", "verdict"), [
    ("self.size() > 1", [1, 2], None),
    ("self.size() > 1", [1], "false"),
    ("self.missing > 1", {}, "CELEvalError"),
    ("self ==", 1, "CELParseError"),
    ("self + 1", 1, "rule returned"),
])
def test_evaluate_rule(rule, value, verdict):
    result = evaluate_rule(rule, value)
    assert result == verdict if verdict in (None, "false") else result.startswith(verdict)
