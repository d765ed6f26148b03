"""The plan's YAML writer gives the bytes PyYAML's own safe dumper gives."""

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from tailscale_cluster_access.offline.report.yaml_text import dump_documents

_BASE: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# Strings that YAML would read back as something else are the interesting case.
_tricky = st.sampled_from(["yes", "no", "on", "null", "~", "true", "1", "0x1F", "1e3", "-",
                           "", " lead", "a: b", "#c", "2026-12-02", "<unknown>", "é", "\t"])
_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                     st.text(max_size=12), _tricky)
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=6), _tricky),
                                                 inner, max_size=4)), max_leaves=15)


def reference(documents: list[Any]) -> str:
    text: str = yaml.dump_all(documents, Dumper=_BASE, sort_keys=False, explicit_start=True,
                              default_flow_style=False, allow_unicode=True, width=100)
    return text


@settings(max_examples=150, deadline=None)
@given(st.lists(_values, max_size=4))
def test_same_bytes_as_the_safe_dumper(documents: list[Any]) -> None:
    assert dump_documents(documents) == reference(documents)


def test_repeated_strings_and_subclasses():
    class Name(str):
        pass

    documents = [{"kind": "ClusterRoleBinding", "metadata": {"name": "yes"}},
                 {"kind": "ClusterRoleBinding", "metadata": {"name": "yes", "n": True}}]
    assert dump_documents(documents) == reference(documents)
    # A str subclass goes through PyYAML's own path, which refuses it as the safe dumper does.
    with pytest.raises(yaml.representer.RepresenterError):
        reference([Name("x")])
    with pytest.raises(yaml.representer.RepresenterError):
        dump_documents([Name("x")])
