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


# Strings near the edge of what is written plain: the direct path's territory.
_plainish = st.one_of(st.text(alphabet="aZ09._/@-: #", min_size=0, max_size=8),
                      st.sampled_from(["tag:k8s", "a:", ":a", "a::b", "-a", "1.102.3", "0o17",
                                       "1_000", "1e3", ".inf", "Yes", "NULL", "y", "ON"]))
_plain_scalars = st.one_of(st.none(), st.booleans(), st.integers(), _plainish)
_plain_values = st.recursive(_plain_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_plainish, inner, max_size=3)), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_plain_values, _values), max_size=4))
def test_direct_documents_have_the_safe_dumpers_bytes(documents: list[Any]) -> None:
    assert dump_documents(documents) == reference(documents)


def test_manifests_take_the_direct_path_and_shared_objects_do_not():
    from tailscale_cluster_access.offline.report.yaml_text import _direct

    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"labels": {"app.kubernetes.io/managed-by": "x"}, "name": "a-view"},
               "subjects": [{"kind": "Group", "name": "tailnet-readers"}],
               "spec": {"tags": ["tag:k8s"], "replicas": 2, "empty": {}, "none": None}}
    assert _direct(binding) == reference([binding])
    shared = {"a": 1}
    document = {"x": shared, "y": shared}
    assert _direct(document) is None
    assert dump_documents([binding, document, binding]) == reference([binding, document, binding])
