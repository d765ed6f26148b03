"""Tests for the drift check: which live policy entries a write would drop or change."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tailscale_cluster_access.core.policy.drift import lost_entries
from tailscale_cluster_access.core.policy.merge import merge_policies

SRE_SSH = {"action": "accept", "src": ["group:sre"], "dst": ["tag:ci:22"]}
EXPORTED: dict[str, Any] = {
    "groups": {"group:sre": ["carol@example.com"]},
    "tagOwners": {"tag:ci": ["group:sre"]},
    "acls": [SRE_SSH],
    "ssh": [{"action": "check", "src": ["group:sre"], "dst": ["tag:ci"], "users": ["root"]}],
    "tests": [{"src": "group:sre", "accept": ["tag:ci:22"]}],
}
FRAGMENT: dict[str, Any] = {
    "groups": {"group:ml-engineers": ["alice@example.com"]},
    "tagOwners": {"tag:k8s-operator": [], "tag:k8s": ["tag:k8s-operator"]},
    "grants": [{"src": ["group:ml-engineers"], "dst": ["tag:k8s-operator"], "ip": ["tcp:443"]}],
    "acls": [{"action": "accept", "src": ["group:ml-engineers"], "dst": ["tag:k8s-operator:443"]}],
}


def live_with(**changes: Any) -> dict[str, Any]:
    live = copy.deepcopy(EXPORTED)
    live.update(changes)
    return live


def written() -> dict[str, Any]:
    return merge_policies(EXPORTED, [("gpu-dev", FRAGMENT)])


# -- behaviour -------------------------------------------------------------------


def test_the_exported_policy_plus_a_fragment_loses_nothing() -> None:
    assert lost_entries(EXPORTED, written()) == []


def test_a_rule_added_live_after_the_export_is_named() -> None:
    added = {"action": "accept", "src": ["group:data"], "dst": ["tag:db:5432"]}
    live = live_with(acls=[SRE_SSH, added])
    assert lost_entries(live, written()) == [
        'acls: {"action": "accept", "src": ["group:data"], "dst": ["tag:db:5432"]}'
    ]


def test_a_group_changed_live_shows_both_values() -> None:
    live = live_with(groups={"group:sre": ["dave@example.com"]})
    assert lost_entries(live, written()) == [
        'groups["group:sre"]: ["dave@example.com"] -> ["carol@example.com"]'
    ]


def test_a_group_that_would_gain_members_is_a_change_too() -> None:
    live = live_with(groups={"group:sre": ["carol@example.com"]})
    target = written()
    target["groups"]["group:sre"] = ["carol@example.com", "dave@example.com"]
    assert lost_entries(live, target) == [
        'groups["group:sre"]: ["carol@example.com"] -> ["carol@example.com", "dave@example.com"]'
    ]


def test_entries_only_the_written_policy_has_are_not_drift() -> None:
    assert lost_entries({}, written()) == []
    assert lost_entries({"acls": [], "groups": {}}, written()) == []


def test_top_level_keys_match_case_insensitively() -> None:
    live = {"ACLs": [SRE_SSH], "TagOwners": {"tag:ci": ["group:sre"]}}
    assert lost_entries(live, {"acls": [SRE_SSH], "tagOwners": {"tag:ci": ["group:sre"]}}) == []
    assert lost_entries(live, {}) == [
        f"ACLs: {json.dumps(SRE_SSH)}",
        'TagOwners["tag:ci"]: ["group:sre"] -> (removed)',
    ]


def test_field_names_in_entries_match_case_insensitively_but_names_in_maps_do_not() -> None:
    legacy = {"Action": "accept", "Users": ["*"], "Ports": ["*:*"]}
    assert lost_entries({"acls": [legacy]},
                        {"acls": [{"ports": ["*:*"], "action": "accept", "users": ["*"]}]}) == []
    assert lost_entries({"groups": {"group:SRE": ["a@x.com"]}},
                        {"groups": {"group:sre": ["a@x.com"]}}) == [
        'groups["group:SRE"]: ["a@x.com"] -> (removed)'
    ]


def test_a_key_spelled_twice_is_read_like_go_reads_it() -> None:
    # Later spellings replace lists, so the base's "ACLs" would be lost behind "acls".
    other = {"action": "accept", "src": ["tag:a"], "dst": ["tag:b:*"]}
    assert lost_entries({"acls": [SRE_SSH]}, {"ACLs": [SRE_SSH], "acls": [other]}) == [
        f"acls: {json.dumps(SRE_SSH)}"
    ]
    # Objects are merged key by key.
    assert lost_entries({"groups": {"group:a": ["x@y.com"], "group:b": ["z@y.com"]}},
                        {"Groups": {"group:a": ["x@y.com"]}, "groups": {"group:b": ["z@y.com"]}}
                        ) == []


def test_entry_key_order_and_owner_order_do_not_matter() -> None:
    live = {
        "acls": [{"dst": ["tag:ci:22"], "action": "accept", "src": ["group:sre"]}],
        "tagOwners": {"tag:ci": ["group:sre", "autogroup:admin"]},
        "postures": {"posture:ok": ["node:os == 'linux'", "node:tsReleaseTrack == 'stable'"]},
    }
    target = {
        "acls": [SRE_SSH],
        "tagOwners": {"tag:ci": ["autogroup:admin", "group:sre"]},
        "postures": {"posture:ok": ["node:tsReleaseTrack == 'stable'", "node:os == 'linux'"]},
    }
    assert lost_entries(live, target) == []


def test_a_missing_section_reports_each_entry_once_in_live_order() -> None:
    first = {"src": ["group:a"], "dst": ["tag:x"], "ip": ["*"]}
    second = {"src": ["group:b"], "dst": ["tag:y"], "ip": ["*"]}
    assert lost_entries({"grants": [second, first, second]}, {}) == [
        f"grants: {json.dumps(second)}",
        f"grants: {json.dumps(first)}",
    ]


def test_hosts_and_other_maps_compare_values() -> None:
    live = {"hosts": {"db": "100.64.0.1", "web": "100.64.0.2"},
            "ipsets": {"ipset:a": ["10.0.0.0/8"]}}
    target = {"hosts": {"db": "100.64.0.9", "web": "100.64.0.2"}}
    assert lost_entries(live, target) == [
        'hosts["db"]: "100.64.0.1" -> "100.64.0.9"',
        'ipsets["ipset:a"]: ["10.0.0.0/8"] -> (removed)',
    ]


def test_auto_approvers_count_only_approvers_that_would_go() -> None:
    live = {"autoApprovers": {"routes": {"10.0.0.0/8": ["tag:net"]}, "exitNode": ["tag:exit"],
                              "services": {"svc:web": ["tag:web"]}}}
    more = {"autoApprovers": {"routes": {"10.0.0.0/8": ["tag:net", "tag:k8s"]},
                              "exitNode": ["tag:k8s", "tag:exit"],
                              "services": {"svc:web": ["tag:web"], "svc:db": ["tag:k8s"]}}}
    assert lost_entries(live, more) == []
    fewer = {"AutoApprovers": {"Routes": {"10.0.0.0/8": ["tag:k8s"]}}}
    assert lost_entries(live, fewer) == [
        'autoApprovers["routes"]["10.0.0.0/8"]: ["tag:net"] -> ["tag:k8s"]',
        'autoApprovers["exitNode"]: ["tag:exit"] -> (removed)',
        'autoApprovers["services"]["svc:web"]: ["tag:web"] -> (removed)',
    ]


def test_other_settings_must_keep_their_value() -> None:
    live = {"randomizeClientPort": True, "disableIPv4": False, "OneCGNATRoute": "mullvad"}
    assert lost_entries(live, {"randomizeClientPort": True, "oneCGNATRoute": "mullvad"}) == []
    assert lost_entries(live, {"randomizeClientPort": False}) == [
        "randomizeClientPort: true -> false",
        'OneCGNATRoute: "mullvad" -> (removed)',
    ]


def test_struct_sections_compare_field_by_field() -> None:
    live = {"derpMap": {"OmitDefaultRegions": True, "Regions": {"900": {"RegionID": 900}}}}
    assert lost_entries(live, {"derpmap": {"omitDefaultRegions": True,
                                           "regions": {"900": {"RegionID": 900}}}}) == []
    assert lost_entries(live, {"derpMap": {"Regions": {}}}) == [
        'derpMap["OmitDefaultRegions"]: true -> (removed)',
        'derpMap["Regions"]: {"900": {"RegionID": 900}} -> {}',
    ]


def test_a_section_of_another_shape_is_one_change() -> None:
    assert lost_entries({"acls": [SRE_SSH]}, {"acls": {"oops": True}}) == [
        f'acls: [{json.dumps(SRE_SSH)}] -> {{"oops": true}}'
    ]
    assert lost_entries({"groups": {"group:a": []}}, {"groups": []}) == [
        'groups: {"group:a": []} -> []'
    ]


def test_long_entries_are_shortened() -> None:
    rule = {"action": "accept", "src": [f"user{i}@example.com" for i in range(30)], "dst": ["*:*"]}
    [line] = lost_entries({"acls": [rule]}, {})
    assert line.startswith('acls: {"action": "accept", "src": ["user0@example.com"')
    assert line.endswith("…") and len(line) < 220


def test_inputs_are_not_modified() -> None:
    live = live_with(acls=[SRE_SSH, {"Action": "accept", "Src": ["*"], "Dst": ["*:*"]}])
    target = written()
    before = copy.deepcopy((live, target))
    lost_entries(live, target)
    assert (live, target) == before


# -- properties ----------------------------------------------------------------

# Small alphabets, as in test_merge.py, so that names collide and sections overlap often.
_TAIL = st.text("abk8s0-", max_size=4)
TAGS = st.builds("tag:{}{}".format, st.sampled_from("abkw"), _TAIL)
GROUPS = st.builds("group:{}{}".format, st.sampled_from("eo"), _TAIL)
EMAILS = st.builds("{}@example.com".format, st.text("abcxyz", min_size=1, max_size=4))
PRINCIPALS = st.lists(st.one_of(TAGS, GROUPS, EMAILS, st.just("*")), min_size=1, max_size=3)
ACLS = st.fixed_dictionaries({"action": st.just("accept"), "src": PRINCIPALS,
                              "dst": st.lists(TAGS.map(lambda t: t + ":*"), min_size=1,
                                              max_size=2)})
GRANTS = st.fixed_dictionaries(
    {"src": PRINCIPALS, "dst": PRINCIPALS, "ip": st.sampled_from([["*"], ["tcp:443"]])},
    optional={"srcPosture": st.lists(st.sampled_from(["posture:a", "posture:b"]), max_size=1)})
SSH = st.fixed_dictionaries({"action": st.sampled_from(["accept", "check"]), "src": PRINCIPALS,
                             "dst": st.lists(TAGS, min_size=1, max_size=2),
                             "users": st.just(["root"])})
OWNER_LISTS = st.lists(st.one_of(TAGS, GROUPS, EMAILS), max_size=3, unique=True)
CIDRS = st.sampled_from(["10.0.0.0/8", "10.1.0.0/16", "fd7a::/48"])
APPROVERS = st.fixed_dictionaries({}, optional={
    "routes": st.dictionaries(CIDRS, st.lists(TAGS, max_size=2, unique=True), max_size=2),
    "services": st.dictionaries(st.sampled_from(["svc:web", "svc:db"]),
                                st.lists(TAGS, max_size=2, unique=True), max_size=2),
    "exitNode": st.lists(TAGS, max_size=2, unique=True),
})
LIST_SECTIONS = {"acls": ACLS, "grants": GRANTS, "ssh": SSH}
MAP_SECTIONS = {
    "groups": (GROUPS, st.lists(EMAILS, min_size=1, max_size=3, unique=True)),
    "tagOwners": (TAGS, OWNER_LISTS),
    "hosts": (st.sampled_from(["db", "web", "gpu"]),
              st.sampled_from(["100.64.0.1", "100.64.0.2", "10.0.0.0/24"])),
    "postures": (st.sampled_from(["posture:a", "posture:b"]),
                 st.lists(st.sampled_from(["node:os == 'linux'", "node:tsAutoUpdate"]),
                          min_size=1, max_size=2, unique=True)),
}


@st.composite
def policies_and_fragments(
    draw: st.DrawFn, with_fragments: bool = True
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """A live policy and fragments that merge into it without conflicts: every side takes a
    map entry's value from one shared pool (owner lists in any order)."""
    pools = {section: draw(st.dictionaries(keys, values, max_size=4))
             for section, (keys, values) in MAP_SECTIONS.items()}
    entries = {section: draw(st.lists(strategy, max_size=4))
               for section, strategy in LIST_SECTIONS.items()}
    port = draw(st.booleans())

    def policy() -> dict[str, Any]:
        chosen: dict[str, Any] = {}
        for section, pool in pools.items():
            names = draw(st.lists(st.sampled_from(sorted(pool)), unique=True)) if pool else []
            if names or draw(st.booleans()):
                chosen[section] = {
                    name: draw(st.permutations(pool[name])) if isinstance(pool[name], list)
                    else pool[name]
                    for name in names
                }
        for section, items in entries.items():
            if items and draw(st.booleans()):
                chosen[section] = draw(st.lists(st.sampled_from(items), max_size=4))
        if draw(st.booleans()):
            chosen["autoApprovers"] = draw(APPROVERS)
        if draw(st.booleans()):
            chosen["randomizeClientPort"] = port
        order = draw(st.permutations(sorted(chosen)))
        return {key: chosen[key] for key in order}

    live = policy()
    if not with_fragments:
        return live, []
    names = draw(st.lists(st.sampled_from(["gpu-a", "gpu-b", "cpu", "edge"]), unique=True))
    return live, [(name, policy()) for name in names]


def recased(policy: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """The same policy with top-level keys spelled in other cases, in another order."""
    spellings = {key: data.draw(st.sampled_from([key, key.lower(), key.upper()]))
                 for key in policy}
    order = data.draw(st.permutations(sorted(policy)))
    return {spellings[key]: copy.deepcopy(policy[key]) for key in order}


_settings = settings(max_examples=100, deadline=None)


@_settings
@given(policies_and_fragments())
def test_merging_fragments_into_the_live_policy_loses_nothing(
    scenario: tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]],
) -> None:
    live, fragments = scenario
    assert lost_entries(live, merge_policies(live, fragments)) == []


@_settings
@given(policies_and_fragments(with_fragments=False), st.data())
def test_spelling_and_order_of_sections_do_not_matter(
    scenario: tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]], data: st.DataObject
) -> None:
    live, _ = scenario
    assert lost_entries(live, recased(live, data)) == []
    assert lost_entries(recased(live, data), live) == []


@_settings
@given(policies_and_fragments(), st.data())
def test_dropping_any_live_entry_is_reported(
    scenario: tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]], data: st.DataObject
) -> None:
    live, fragments = scenario
    target = merge_policies(live, fragments)
    # Only entries that are live and not duplicated in the written policy can be lost.
    candidates = [(section, index) for section in LIST_SECTIONS
                  for index, entry in enumerate(target.get(section, []))
                  if entry in live.get(section, []) and target[section].count(entry) == 1]
    candidates += [(section, name) for section in MAP_SECTIONS
                   for name in live.get(section, {})]
    assume(candidates)
    section, which = data.draw(st.sampled_from(candidates))
    if isinstance(which, int):
        entry = target[section].pop(which)
        expected = f"{section}: {json.dumps(entry)}"
    else:
        del target[section][which]
        expected = (f"{section}[{json.dumps(which)}]: {json.dumps(live[section][which])}"
                    " -> (removed)")
    lost = lost_entries(live, target)
    assert len(lost) == 1
    assert lost[0] == expected or (lost[0].endswith("…") and expected.startswith(lost[0][:-1]))
