"""The spec's derived values: ClusterRoleBinding names."""

import sys

from hypothesis import given
from hypothesis import strategies as st
from tailscale_cluster_access.core.spec import _NOT_IN_NAME, RoleBinding


def charwise_name(group: str, cluster_role: str) -> str:
    """The definition: letters and digits (str.isalnum), "-" and "." stay, the rest is "-"."""
    raw = f"{group}-{cluster_role}".lower()
    cleaned = "".join(c if c.isalnum() or c in "-." else "-" for c in raw)
    return cleaned.strip("-.")[:253]


def test_the_guide_binding_name() -> None:
    assert RoleBinding("tailnet-readers", "view").name == "tailnet-readers-view"
    assert RoleBinding("ML_Ops", "system:aggregate-to-edit").name == \
        "ml-ops-system-aggregate-to-edit"


def test_the_pattern_keeps_exactly_the_alphanumeric_characters() -> None:
    """Every code point: the regex class and str.isalnum() agree."""
    kept_by_regex = {c for c in map(chr, range(sys.maxunicode + 1))
                     if not _NOT_IN_NAME.fullmatch(c)}
    kept_by_definition = {c for c in map(chr, range(sys.maxunicode + 1))
                          if c.isalnum() or c in "-."}
    assert kept_by_regex == kept_by_definition


@given(st.text(), st.text())
def test_names_follow_the_definition(group: str, cluster_role: str) -> None:
    assert RoleBinding(group, cluster_role).name == charwise_name(group, cluster_role)
