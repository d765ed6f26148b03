"""The plan's JSON writer gives the bytes of the standard library's indented JSON."""

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tailscale_cluster_access.offline.report.json_text import dumps_indented

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
                     st.sampled_from(["é", "\u2028", "\x00", '"', "\\", "<unknown>", "\ud800"]))
_keys = st.one_of(st.text(max_size=6), st.integers(), st.booleans(), st.none(), st.floats())
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(_keys, inner, max_size=4)), max_leaves=20)


def reference(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_same_bytes_as_json_dumps(value: Any) -> None:
    assert dumps_indented(value) == reference(value)


def test_other_types_and_their_errors_are_the_standard_librarys():
    class Name(str):
        pass

    assert dumps_indented({"a": [Name("x"), 1.5]}) == reference({"a": [Name("x"), 1.5]})
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps_indented({"a": {1, 2}})
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps_indented(looped)
