"""Tests for merging a base tailnet policy with generated fragments."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tailscale_cluster_access.core.policy.merge import Conflict, MergeError, merge_policies

# What Tailscale's Kubernetes operator guide asks to add, as one cluster's fragment.
OPERATOR_FRAGMENT: dict[str, Any] = {
    "tagOwners": {
        "tag:k8s-operator": [],
        "tag:k8s": ["tag:k8s-operator"],
    },
    "grants": [
        {
            "src": ["autogroup:admin"],
            "dst": ["tag:k8s-operator"],
            "app": {
                "tailscale.com/cap/kubernetes": [{"impersonate": {"groups": ["system:masters"]}}]
            },
        }
    ],
}

BASE: dict[str, Any] = {
    "groups": {"group:eng": ["alice@example.com", "bob@example.com"]},
    "tagOwners": {"tag:web": ["group:eng"]},
    "acls": [{"action": "accept", "src": ["group:eng"], "dst": ["tag:web:443"]}],
    "ssh": [],
}


def conflicts_of(base: dict[str, Any], *fragments: tuple[str, dict[str, Any]]) -> list[Conflict]:
    with pytest.raises(MergeError) as info:
        merge_policies(base, fragments)
    return info.value.conflicts


# -- behaviour -------------------------------------------------------------------


def test_fragment_is_appended_after_base_entries() -> None:
    merged = merge_policies(BASE, [("gpu-a", OPERATOR_FRAGMENT)])
    assert list(merged) == ["groups", "tagOwners", "acls", "ssh", "grants"]
    assert list(merged["tagOwners"]) == ["tag:web", "tag:k8s-operator", "tag:k8s"]
    assert merged["tagOwners"]["tag:k8s"] == ["tag:k8s-operator"]
    assert merged["grants"] == OPERATOR_FRAGMENT["grants"]
    assert merged["acls"] == BASE["acls"]


def test_no_fragments_gives_a_copy_of_the_base() -> None:
    merged = merge_policies(BASE, [])
    assert merged == BASE
    merged["groups"]["group:eng"].append("mallory@example.com")
    assert BASE["groups"]["group:eng"] == ["alice@example.com", "bob@example.com"]


def test_inputs_are_not_modified_or_shared() -> None:
    base = copy.deepcopy(BASE)
    fragment = copy.deepcopy(OPERATOR_FRAGMENT)
    merged = merge_policies(base, [("gpu-a", fragment)])
    assert base == BASE and fragment == OPERATOR_FRAGMENT
    merged["tagOwners"]["tag:k8s"].append("x@example.com")
    merged["grants"][0]["src"].append("x@example.com")
    assert fragment == OPERATOR_FRAGMENT


def test_equal_owner_lists_in_another_order_are_not_a_conflict() -> None:
    base = {"tagOwners": {"tag:k8s": ["group:eng", "tag:k8s-operator"]}}
    fragment = {"tagOwners": {"tag:k8s": ["tag:k8s-operator", "group:eng"]}}
    assert merge_policies(base, [("gpu-a", fragment)]) == base


def test_conflict_message_names_both_sides_and_the_fix() -> None:
    base = {"tagOwners": {"tag:k8s": ["alice@x.com"]}}
    fragment = {"tagOwners": {"tag:k8s": ["tag:k8s-operator"]}}
    [conflict] = conflicts_of(base, ("gpu-a", fragment))
    assert conflict == Conflict(
        'tagOwners["tag:k8s"]', ["alice@x.com"], ["tag:k8s-operator"], "gpu-a"
    )
    assert conflict.describe() == (
        'tagOwners["tag:k8s"]: the base policy says ["alice@x.com"] but cluster'
        " 'gpu-a' needs [\"tag:k8s-operator\"]; make them equal in the base file"
        " or rename the tag in the stack config"
    )


def test_all_conflicts_are_reported_together() -> None:
    base = {
        "groups": {"group:ops": ["a@x.com"]},
        "tagOwners": {"tag:k8s": ["a@x.com"]},
        "hosts": {"db": "100.64.0.1"},
        "randomizeClientPort": False,
        "acls": {"not": "a list"},
    }
    fragment = {
        "groups": {"group:ops": ["b@x.com"]},
        "tagOwners": {"tag:k8s": ["tag:k8s-operator"]},
        "hosts": {"db": "100.64.0.2"},
        "randomizeClientPort": True,
        "acls": [],
    }
    with pytest.raises(MergeError) as info:
        merge_policies(base, [("gpu-a", fragment)])
    paths = [c.path for c in info.value.conflicts]
    assert paths == sorted(
        [
            "acls",
            'groups["group:ops"]',
            'hosts["db"]',
            "randomizeClientPort",
            'tagOwners["tag:k8s"]',
        ]
    )
    lines = str(info.value).splitlines()
    assert lines[0].startswith("5 conflicts")
    assert lines[1:] == ["  " + c.describe() for c in info.value.conflicts]
    assert "rename the group" in str(info.value)
    assert "rename the host alias" in str(info.value)
    assert "change the value" in str(info.value)


def test_conflict_between_two_fragments_names_the_other_fragment() -> None:
    first = ("gpu-a", {"tagOwners": {"tag:k8s": ["tag:k8s-operator"]}})
    second = ("gpu-b", {"tagOwners": {"tag:k8s": ["group:ops"]}})
    with pytest.raises(MergeError) as one:
        merge_policies({}, [first, second])
    with pytest.raises(MergeError) as other:
        merge_policies({}, [second, first])
    assert str(one.value) == str(other.value)
    [conflict] = one.value.conflicts
    assert {conflict.fragment_name, conflict.other_fragment} == {"gpu-a", "gpu-b"}
    assert "'gpu-a'" in conflict.describe() and "'gpu-b'" in conflict.describe()
    assert "in one of the two stack configs" in conflict.describe()


def test_auto_approvers_are_unioned() -> None:
    base = {
        "autoApprovers": {
            "routes": {"10.0.0.0/8": ["group:net"]},
            "exitNode": ["group:net"],
        }
    }
    fragment = {
        "autoApprovers": {
            "routes": {"10.0.0.0/8": ["tag:k8s", "group:net"], "10.1.0.0/16": ["tag:k8s"]},
            "services": {"svc:web": ["tag:k8s"]},
            "exitNode": ["tag:k8s"],
        }
    }
    merged = merge_policies(base, [("gpu-a", fragment)])
    assert merged["autoApprovers"] == {
        "routes": {"10.0.0.0/8": ["group:net", "tag:k8s"], "10.1.0.0/16": ["tag:k8s"]},
        "exitNode": ["group:net", "tag:k8s"],
        "services": {"svc:web": ["tag:k8s"]},
    }


def test_auto_approvers_of_the_wrong_shape_conflict() -> None:
    base = {"autoApprovers": {"routes": ["tag:x"]}}
    fragment = {"autoApprovers": {"routes": {"10.0.0.0/8": ["tag:k8s"]}}}
    [conflict] = conflicts_of(base, ("gpu-a", fragment))
    assert conflict.path == 'autoApprovers["routes"]'


def test_list_entries_are_deduplicated_ignoring_key_order() -> None:
    base = {"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}, {"x": 1}, {"x": 1}]}
    fragment = {
        "acls": [
            {"dst": ["*:*"], "src": ["*"], "action": "accept"},
            {"action": "accept", "src": ["tag:a"], "dst": ["tag:b:*"]},
            {"action": "accept", "src": ["tag:a"], "dst": ["tag:b:*"]},
        ]
    }
    merged = merge_policies(base, [("gpu-a", fragment)])
    # Base duplicates are the base owners' business and stay.
    assert merged["acls"] == [*base["acls"], fragment["acls"][1]]


def test_other_top_level_objects() -> None:
    base = {"derpMap": {"OmitDefaultRegions": True}, "extraOwners": {"a": ["x"]}}
    same = {"derpMap": {"OmitDefaultRegions": True}, "extraOwners": {"b": ["y"]}}
    merged = merge_policies(base, [("gpu-a", same)])
    # Objects of owner lists are merged per key; anything else must be equal.
    assert merged == {
        "derpMap": {"OmitDefaultRegions": True},
        "extraOwners": {"a": ["x"], "b": ["y"]},
    }
    different = {"derpMap": {"OmitDefaultRegions": False, "Regions": {}}}
    [conflict] = conflicts_of(base, ("gpu-a", different))
    assert conflict.path == "derpMap"


def test_fragments_may_use_tuples() -> None:
    fragment = {"tagOwners": {"tag:k8s": ("tag:k8s-operator",)}, "grants": ({"src": ("*",)},)}
    merged = merge_policies({"grants": [{"src": ["*"]}]}, [("gpu-a", fragment)])
    assert merged == {"grants": [{"src": ["*"]}], "tagOwners": {"tag:k8s": ["tag:k8s-operator"]}}


def test_duplicate_fragment_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unique"):
        merge_policies({}, [("gpu-a", {}), ("gpu-a", {"x": 1})])


def test_merge_error_pickles() -> None:
    error = MergeError([Conflict("a", 1, 2, "f"), Conflict("b", [1], {"x": 2}, "g", "f")])
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
    assert isinstance(error, ValueError)


# -- properties ----------------------------------------------------------------

# Built from small alphabets rather than st.from_regex, which is much slower.
_NAME_TAIL = st.text("abk8s0-", max_size=5)
TAGS = st.builds("tag:{}{}".format, st.sampled_from("abkw"), _NAME_TAIL)
EMAILS = st.builds(
    "{}@{}".format,
    st.text("abcxyz", min_size=1, max_size=4),
    st.sampled_from(["example.com", "corp.io"]),
)
GROUPS = st.builds("group:{}{}".format, st.sampled_from("eo"), _NAME_TAIL)
OWNERS = st.one_of(TAGS, EMAILS, GROUPS, st.sampled_from(["autogroup:admin", "autogroup:member"]))
OWNER_LISTS = st.lists(OWNERS, max_size=3, unique=True)
PRINCIPALS = st.lists(st.one_of(TAGS, GROUPS, EMAILS, st.just("*")), min_size=1, max_size=3)
GRANTS = st.one_of(
    st.fixed_dictionaries(
        {"src": PRINCIPALS, "dst": PRINCIPALS, "ip": st.sampled_from([["*"], ["tcp:443"]])}
    ),
    st.fixed_dictionaries(
        {
            "src": PRINCIPALS,
            "dst": st.lists(TAGS, min_size=1, max_size=2),
            "app": st.fixed_dictionaries(
                {
                    "tailscale.com/cap/kubernetes": st.lists(
                        st.fixed_dictionaries(
                            {
                                "impersonate": st.fixed_dictionaries(
                                    {
                                        "groups": st.lists(
                                            st.sampled_from(["system:masters", "view"]), max_size=2
                                        )
                                    }
                                )
                            }
                        ),
                        max_size=1,
                    )
                }
            ),
        }
    ),
)
ACLS = st.fixed_dictionaries(
    {
        "action": st.just("accept"),
        "src": PRINCIPALS,
        "dst": st.lists(TAGS.map(lambda t: t + ":*"), min_size=1, max_size=2),
    }
)
CIDRS = st.sampled_from(["10.0.0.0/8", "10.1.0.0/16", "192.168.0.0/24", "fd7a::/48"])
APPROVERS = st.fixed_dictionaries(
    {},
    optional={
        "routes": st.dictionaries(CIDRS, st.lists(TAGS, max_size=2), max_size=2),
        "services": st.dictionaries(
            st.sampled_from(["svc:web", "svc:db"]), st.lists(TAGS, max_size=2), max_size=2
        ),
        "exitNode": st.lists(TAGS, max_size=2),
    },
)


def policy_from(
    draw: st.DrawFn,
    tag_owners: st.SearchStrategy[dict[str, list[str]]],
    groups: st.SearchStrategy[dict[str, list[str]]],
    grants: list[Any],
    extras: st.SearchStrategy[dict[str, Any]],
) -> dict[str, Any]:
    sections: dict[str, Any] = {
        "groups": groups,
        "tagOwners": tag_owners,
        "autoApprovers": APPROVERS,
        "grants": st.lists(st.sampled_from(grants), max_size=4) if grants else st.just([]),
        "acls": st.lists(ACLS, max_size=2),
        "tests": st.just([]),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(sections)), unique=True))
    policy = {key: draw(sections[key]) for key in chosen}
    policy.update(draw(extras))
    return policy


@st.composite
def scenarios(
    draw: st.DrawFn, consistent: bool
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """A base policy and uniquely named fragments.

    With ``consistent``, every side takes a map entry's value from one shared
    pool (in any order), so no merge conflicts can arise.
    """
    grant_pool = draw(st.lists(GRANTS, max_size=5))
    if consistent:
        tag_pool = draw(st.dictionaries(TAGS, OWNER_LISTS, min_size=1, max_size=6))
        group_pool = draw(
            st.dictionaries(
                GROUPS,
                st.lists(EMAILS, min_size=1, max_size=3, unique=True),
                min_size=1,
                max_size=4,
            )
        )
        extra_pool = {"randomizeClientPort": draw(st.booleans())}

        def subset(pool: dict[str, list[str]]) -> st.SearchStrategy[dict[str, list[str]]]:
            keys = st.lists(st.sampled_from(sorted(pool)), unique=True) if pool else st.just([])
            return keys.flatmap(
                lambda ks: st.fixed_dictionaries({k: st.permutations(pool[k]) for k in ks})
            )

        tag_owners, groups = subset(tag_pool), subset(group_pool)
        extras = st.dictionaries(
            st.just("randomizeClientPort"), st.just(extra_pool["randomizeClientPort"])
        )
    else:
        # Few possible keys and values, so collisions and conflicts are common.
        few_tags = st.sampled_from(["tag:k8s", "tag:k8s-operator", "tag:web"])
        few_owners = st.lists(
            st.sampled_from(["tag:k8s-operator", "group:eng", "alice@example.com"]),
            max_size=2,
            unique=True,
        )
        tag_owners = st.dictionaries(few_tags, few_owners, max_size=3)
        groups = st.dictionaries(
            st.sampled_from(["group:eng", "group:ops"]), few_owners, max_size=2
        )
        extras = st.dictionaries(
            st.sampled_from(["randomizeClientPort", "disableIPv4"]), st.booleans(), max_size=2
        )
    base = policy_from(draw, tag_owners, groups, grant_pool, extras)
    names = draw(
        st.lists(
            st.builds("{}{}".format, st.sampled_from(["gpu-", "cpu-", "edge-"]), _NAME_TAIL),
            max_size=4,
            unique=True,
        )
    )
    fragments = [
        (name, policy_from(draw, tag_owners, groups, grant_pool, extras)) for name in names
    ]
    return base, fragments


def ordered(value: Any) -> str:
    """A rendering that, unlike ==, also sees key order."""
    return json.dumps(value)


def outcome(base: dict[str, Any], fragments: list[tuple[str, dict[str, Any]]]) -> str:
    try:
        return ordered(merge_policies(base, fragments))
    except MergeError as error:
        return "error: " + str(error)


def assert_extends(merged: Any, base: Any) -> None:
    """Base keys and list items come first and unchanged; more may follow."""
    if isinstance(base, dict):
        assert list(merged)[: len(base)] == list(base)
        for key, value in base.items():
            assert_extends(merged[key], value)
    elif isinstance(base, list):
        assert merged[: len(base)] == base
    else:
        assert merged == base


_settings = settings(max_examples=100, deadline=None)


@_settings
@given(scenarios(consistent=True), st.data())
def test_merge_keeps_every_base_entry_and_every_fragment_entry(
    scenario: tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]], data: st.DataObject
) -> None:
    base, fragments = scenario
    original = copy.deepcopy(base)
    merged = merge_policies(base, fragments)
    # Conflict-free merges are also checked for order independence and idempotence here.
    shuffled = data.draw(st.permutations(fragments))
    assert ordered(merge_policies(base, shuffled)) == ordered(merged)
    assert ordered(merge_policies(merged, shuffled)) == ordered(merged)
    assert ordered(base) == ordered(original)
    assert list(merged)[: len(base)] == list(base)
    for key, value in base.items():
        if isinstance(value, list):
            assert merged[key][: len(value)] == value
        elif key == "autoApprovers":
            assert_extends(merged[key], value)
        elif isinstance(value, dict):
            assert list(merged[key])[: len(value)] == list(value)
            for entry, item in value.items():
                assert merged[key][entry] == item
        else:
            assert merged[key] == value
    for _, fragment in fragments:
        for key, value in fragment.items():
            if key == "autoApprovers":
                for section, wanted in value.items():
                    have = merged[key][section]
                    if isinstance(wanted, list):
                        assert set(wanted) <= set(have)
                    else:
                        for entry, approvers in wanted.items():
                            assert set(approvers) <= set(have[entry])
            elif isinstance(value, list):
                assert all(item in merged[key] for item in value)
            elif isinstance(value, dict):
                for entry, owners in value.items():
                    assert sorted(merged[key][entry]) == sorted(owners)
            else:
                assert merged[key] == value


@_settings
@given(scenarios(consistent=False))
def test_merge_is_idempotent(
    scenario: tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]],
) -> None:
    base, fragments = scenario
    try:
        once = merge_policies(base, fragments)
    except MergeError as error:
        assert error.conflicts
        return
    assert ordered(merge_policies(once, fragments)) == ordered(once)


@_settings
@given(scenarios(consistent=False), st.data())
def test_merge_does_not_depend_on_fragment_order(
    scenario: tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]], data: st.DataObject
) -> None:
    base, fragments = scenario
    shuffled = data.draw(st.permutations(fragments))
    assert outcome(base, shuffled) == outcome(base, fragments)
