"""`canonical`: the comparison key of policy values, built with a reused C encoder."""

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tailscale_cluster_access.core.policy import values

_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4)
    | st.lists(children, max_size=3).map(tuple)
    | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)


def reference(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@settings(max_examples=300)
@given(_json_values)
def test_canonical_is_sorted_compact_json(value: Any) -> None:
    assert values.canonical(value) == reference(value)


@given(st.dictionaries(st.text(max_size=3), st.integers(), max_size=5), st.randoms())
def test_canonical_ignores_key_order(mapping: dict[str, int], random: Any) -> None:
    items = list(mapping.items())
    random.shuffle(items)
    assert values.canonical(dict(items)) == values.canonical(mapping)


def test_without_the_c_encoder_the_key_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {"b": [1, 2.5, None, True], "a": {"é": "x\u2028", "lone": "\ud800"}}
    expected = values.canonical(value)
    monkeypatch.setattr(values, "_C_ENCODER", None)
    assert values.canonical(value) == expected == reference(value)
