"""`canonical`: the comparison key of policy values."""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from tailscale_cluster_access.core.policy import values


@given(st.dictionaries(st.text(max_size=3), st.integers(), max_size=5), st.randoms())
def test_canonical_ignores_key_order(mapping: dict[str, int], random: Any) -> None:
    items = list(mapping.items())
    random.shuffle(items)
    assert values.canonical(dict(items)) == values.canonical(mapping)


def test_same_value_ignores_list_order_only_for_lists() -> None:
    assert values.same_value(["group:a", "group:b"], ["group:b", "group:a"])
    assert not values.same_value({"a": ["x"]}, {"a": ["y"]})
