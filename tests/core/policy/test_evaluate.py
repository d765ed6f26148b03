"""Tests for the offline evaluation of network rules and of a policy's `tests` section."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tailscale_cluster_access.core.policy import evaluate
from tailscale_cluster_access.core.policy.evaluate import (
    acls_style,
    build_model,
    check_syntax_mix,
    reachable,
    run_tests,
    who_reaches,
)

GROUPS = {
    "group:ml-readers": ["bob@example.com", "carol@example.com"],
    "group:ml-engineers": ["alice@example.com"],
}
RECORDER_DENY = {"src": "alice@example.com", "deny": ["tag:tsrecorder:80"]}


def policy(**sections: Any) -> dict[str, Any]:
    return {"groups": copy.deepcopy(GROUPS), **sections}


def acl(src: list[str], dst: list[str], **extra: Any) -> dict[str, Any]:
    return {"action": "accept", "src": src, "dst": dst, **extra}


def stack_origin(section: str, index: int) -> str:
    return "stack" if index >= 1 else "base"


# -- defaults and broad rules ----------------------------------------------------------------


def test_old_default_acl_breaks_a_recorder_deny_test() -> None:
    base = policy(
        acls=[{"action": "accept", "users": ["*"], "ports": ["*:*"]}], tests=[RECORDER_DENY]
    )
    report = run_tests(base)
    assert not report.ok
    [failure] = report.failures
    assert (failure.test_index, failure.kind, failure.dst) == (0, "deny", "tag:tsrecorder:80")
    assert [(r.section, r.index, r.origin) for r in failure.rules] == [("acls", 0, "policy")]
    assert "acls[0] (policy)" in failure.render()


def test_new_default_grant_breaks_a_recorder_deny_test() -> None:
    base = policy(grants=[{"src": ["*"], "dst": ["*"], "ip": ["*"]}], tests=[RECORDER_DENY])
    [failure] = run_tests(base).failures
    assert failure.rules[0].section == "grants"


def test_danger_all_reaches_everything() -> None:
    base = policy(grants=[{"src": ["autogroup:danger-all"], "dst": ["*"], "ip": ["*"]}])
    assert reachable(base, "203.0.113.9", "tag:tsrecorder", 80).allowed
    assert reachable(base, "tag:ci", "autogroup:internet", 53, "udp").allowed


def test_capitalised_keys_are_read() -> None:
    base = {
        "Groups": GROUPS,
        "ACLs": [{"Action": "accept", "Src": ["group:ml-readers"], "Dst": ["tag:k8s:443"]}],
        "Tests": [{"Src": "bob@example.com", "Accept": ["tag:k8s:443"], "Deny": ["tag:k8s:22"]}],
    }
    report = run_tests(base)
    assert report.ok, report.render()
    assert report.passed == 2


def test_stack_rule_for_a_group_breaks_a_base_test_for_a_member() -> None:
    base = policy(
        acls=[acl(["group:ml-engineers"], ["tag:k8s:443"])],
        tests=[{"src": "bob@example.com", "deny": ["tag:k8s:443"]}],
    )
    assert run_tests(base).ok
    merged = copy.deepcopy(base)
    merged["acls"].append(acl(["group:ml-readers"], ["tag:k8s:443"]))
    [failure] = run_tests(merged, origin_of=stack_origin).failures
    assert failure.src == "bob@example.com"
    assert [(r.index, r.origin) for r in failure.rules] == [(1, "stack")]
    assert "group:ml-readers" in failure.reason


def test_group_source_stands_for_a_member() -> None:
    base = policy(acls=[acl(["carol@example.com"], ["tag:k8s:443"])])
    assert reachable(base, "group:ml-readers", "tag:k8s", 443).allowed
    assert not reachable(base, "group:ml-engineers", "tag:k8s", 443).allowed


# -- protocols and ports ---------------------------------------------------------------------


def test_acl_without_proto_allows_udp_and_tcp_proto_does_not() -> None:
    open_rule = policy(acls=[acl(["*"], ["tag:dns:53"])])
    tcp_rule = policy(acls=[acl(["*"], ["tag:dns:53"], proto="tcp")])
    assert reachable(open_rule, "alice@example.com", "tag:dns", 53, "udp").allowed
    assert reachable(open_rule, "alice@example.com", "tag:dns", 53, "icmp").allowed
    assert not reachable(tcp_rule, "alice@example.com", "tag:dns", 53, "udp").allowed
    assert reachable(tcp_rule, "alice@example.com", "tag:dns", 53, "tcp").allowed
    numbered = policy(acls=[acl(["*"], ["tag:dns:53"], proto="17")])
    assert reachable(numbered, "alice@example.com", "tag:dns", 53, "udp").allowed


def test_test_proto_is_used() -> None:
    base = policy(
        acls=[acl(["*"], ["tag:dns:53"], proto="tcp")],
        tests=[{"src": "alice@example.com", "proto": "udp", "deny": ["tag:dns:53"]}],
    )
    assert run_tests(base).ok


def test_app_only_grant_gives_no_network_access() -> None:
    app = {"tailscale.com/cap/kubernetes": [{"impersonate": {"groups": ["system:masters"]}}]}
    base = policy(
        grants=[{"src": ["group:ml-engineers"], "dst": ["tag:k8s-operator"], "app": app}],
        tests=[{"src": "alice@example.com", "deny": ["tag:k8s-operator:443"]}],
    )
    model = build_model(base)
    assert model.rules == () and model.findings == ()
    assert run_tests(base).ok


def test_port_lists_and_ranges() -> None:
    base = policy(
        acls=[acl(["*"], ["tag:web:80,443", "tag:batch:1000-2000"])],
        grants=[{"src": ["*"], "dst": ["tag:api"], "ip": ["tcp:80-90", "udp:53"]}],
    )
    user = "alice@example.com"
    assert reachable(base, user, "tag:web", 443).allowed
    assert not reachable(base, user, "tag:web", 8080).allowed
    assert reachable(base, user, "tag:batch", 1000).allowed
    assert reachable(base, user, "tag:batch", 2000).allowed
    assert not reachable(base, user, "tag:batch", 2001).allowed
    assert reachable(base, user, "tag:api", 90).allowed
    assert not reachable(base, user, "tag:api", 91).allowed
    assert not reachable(base, user, "tag:api", 85, "udp").allowed
    assert reachable(base, user, "tag:api", 53, "udp").allowed


# -- selectors -------------------------------------------------------------------------------


def test_autogroups_domains_and_tags() -> None:
    base = policy(
        acls=[
            acl(["autogroup:member"], ["tag:k8s:443"]),
            acl(["autogroup:tagged"], ["tag:tsrecorder:80"]),
            acl(["user:*@corp.example"], ["tag:corp:22"]),
            acl(["tag:ci"], ["autogroup:self:*", "tag:cache:6379"]),
        ]
    )
    assert reachable(base, "alice@example.com", "tag:k8s", 443).allowed
    assert not reachable(base, "tag:ci", "tag:k8s", 443).allowed
    assert reachable(base, "tag:k8s", "tag:tsrecorder", 80).allowed
    assert not reachable(base, "alice@example.com", "tag:tsrecorder", 80).allowed
    assert reachable(base, "dan@corp.example", "tag:corp", 22).allowed
    assert not reachable(base, "dan@example.com", "tag:corp", 22).allowed
    assert reachable(base, "tag:ci", "tag:cache", 6379).allowed


def test_hosts_and_addresses() -> None:
    base = policy(
        hosts={"db": "100.100.1.5", "lab": "10.1.0.0/16"},
        acls=[acl(["*"], ["db:5432", "10.0.0.0/8:22"])],
    )
    assert reachable(base, "alice@example.com", "db", 5432).allowed
    assert reachable(base, "alice@example.com", "lab", 22).allowed
    assert reachable(base, "alice@example.com", "10.2.3.4", 22).allowed
    assert not reachable(base, "alice@example.com", "192.168.0.1", 22).allowed
    # A subnet outside the tailnet's ranges is no tag device.
    assert reachable(base, "alice@example.com", "tag:k8s", 22).verdict == "denied"


# -- undecidable -----------------------------------------------------------------------------


def test_role_autogroup_is_undecidable_and_warns() -> None:
    base = policy(
        acls=[acl(["autogroup:admin"], ["tag:k8s:443"])],
        tests=[{"src": "alice@example.com", "deny": ["tag:k8s:443"]}],
    )
    decision = reachable(base, "alice@example.com", "tag:k8s", 443)
    assert decision.verdict == "undecidable"
    assert "roles" in decision.reasons[0]
    report = run_tests(base)
    assert report.failures == () and report.passed == 0
    [warning] = report.warnings
    assert warning.severity == "warning" and warning.index == 0
    # A tag has no role: decidable.
    assert reachable(base, "tag:ci", "tag:k8s", 443).verdict == "denied"


def test_tailnet_address_against_users_is_undecidable() -> None:
    base = policy(acls=[acl(["100.101.102.103"], ["tag:k8s:443"])])
    assert reachable(base, "alice@example.com", "tag:k8s", 443).verdict == "undecidable"
    assert reachable(base, "100.101.102.103", "tag:k8s", 443).allowed
    assert reachable(base, "100.101.102.104", "tag:k8s", 443).verdict == "denied"


def test_an_allowing_rule_beats_an_undecidable_one() -> None:
    base = policy(acls=[acl(["autogroup:admin"], ["tag:k8s:443"]), acl(["*"], ["tag:k8s:443"])])
    decision = reachable(base, "alice@example.com", "tag:k8s", 443)
    assert decision.allowed and [r.index for r in decision.rules] == [1]


def test_via_grants_and_unknown_selectors_are_undecidable() -> None:
    base = policy(
        grants=[
            {"src": ["*"], "dst": ["tag:k8s"], "ip": ["*"], "via": ["tag:router"]},
            {"src": ["ipset:prod"], "dst": ["tag:db"], "ip": ["*"]},
        ]
    )
    assert reachable(base, "alice@example.com", "tag:k8s", 443).verdict == "undecidable"
    assert reachable(base, "alice@example.com", "tag:db", 443).verdict == "undecidable"


def test_unsupported_posture_operator_warns() -> None:
    base = policy(
        postures={"posture:odd": ["node:os LIKE 'lin%'"]},
        grants=[{"src": ["*"], "dst": ["tag:k8s"], "ip": ["443"], "srcPosture": ["posture:odd"]}],
        tests=[
            {
                "src": "alice@example.com",
                "srcPostureAttrs": {"node:os": "linux"},
                "accept": ["tag:k8s:443"],
            }
        ],
    )
    report = run_tests(base)
    assert report.failures == () and len(report.warnings) == 1
    assert "LIKE" in report.warnings[0].message


# -- postures --------------------------------------------------------------------------------


def posture_policy(postures: dict[str, list[str]], wanted: list[str], **extra: Any) -> Any:
    grant = {
        "src": ["group:ml-engineers"],
        "dst": ["tag:k8s"],
        "ip": ["tcp:443"],
        "srcPosture": wanted,
    }
    return policy(postures=postures, grants=[grant], **extra)


def test_unsatisfiable_posture_fails_an_accept_test() -> None:
    both = {"posture:both": ["node:os == 'linux'", "node:os == 'macos'"]}
    test = {
        "src": "alice@example.com",
        "srcPostureAttrs": {"node:os": "linux"},
        "accept": ["tag:k8s:443"],
    }
    report = run_tests(posture_policy(both, ["posture:both"], tests=[test]))
    [failure] = report.failures
    assert failure.kind == "accept"
    assert "posture not met" in failure.reason
    assert [r.section for r in failure.rules] == ["grants"]


def test_posture_alternatives_versions_and_lists() -> None:
    postures = {
        "posture:mac": ["node:os == 'macos'"],
        "posture:linux": [
            "node:os IN ['linux', 'freebsd']",
            "node:tsReleaseTrack == 'stable'",
            "node:tsVersion >= '1.60'",
        ],
    }
    base = posture_policy(postures, ["posture:mac", "posture:linux"])
    good = {"node:os": "linux", "node:tsReleaseTrack": "stable", "node:tsVersion": "1.62.0"}
    old = {**good, "node:tsVersion": "1.58.2"}
    user = "alice@example.com"
    assert reachable(base, user, "tag:k8s", 443, posture_attrs=good).allowed
    assert reachable(base, user, "tag:k8s", 443, posture_attrs={"node:os": "macos"}).allowed
    denied = reachable(base, user, "tag:k8s", 443, posture_attrs=old)
    assert denied.verdict == "denied" and denied.posture_blocked
    # A missing attribute makes its condition false.
    assert reachable(base, user, "tag:k8s", 443).verdict == "denied"


def test_boolean_and_set_conditions() -> None:
    postures = {"posture:auto": ["node:tsAutoUpdate", "custom:edr IS SET"]}
    base = posture_policy(postures, ["posture:auto"])
    user = "alice@example.com"
    both = {"node:tsAutoUpdate": True, "custom:edr": "ok"}
    assert reachable(base, user, "tag:k8s", 443, posture_attrs=both).allowed
    assert not reachable(base, user, "tag:k8s", 443, posture_attrs={"custom:edr": 1}).allowed


def test_default_src_posture_applies_to_rules_without_their_own() -> None:
    base = policy(
        postures={"posture:linux": ["node:os == 'linux'"]},
        defaultSrcPosture=["posture:linux"],
        acls=[acl(["tag:k8s"], ["tag:tsrecorder:80"])],
    )
    assert not reachable(base, "tag:k8s", "tag:tsrecorder", 80).allowed
    linux = {"node:os": "linux"}
    assert reachable(base, "tag:k8s", "tag:tsrecorder", 80, posture_attrs=linux).allowed


# -- syntax ----------------------------------------------------------------------------------


def test_legacy_syntax_is_evaluated() -> None:
    base = policy(
        acls=[{"action": "accept", "users": ["group:ml-readers"], "ports": ["tag:k8s:443"]}]
    )
    assert reachable(base, "bob@example.com", "tag:k8s", 443).allowed
    assert acls_style(base) == "legacy"
    assert check_syntax_mix(base) == []


def test_acls_style_and_syntax_mix() -> None:
    legacy = {"action": "accept", "users": ["*"], "ports": ["*:*"]}
    new = acl(["*"], ["*:*"])
    assert acls_style({}) == "empty"
    assert acls_style({"acls": []}) == "empty"
    assert acls_style({"ACLs": [new]}) == "new"
    mixed = {"acls": [legacy, new]}
    assert acls_style(mixed) == "mixed"
    [finding] = check_syntax_mix(mixed)
    assert finding.severity == "problem" and "old-style" in finding.message
    assert finding.to_problem().key == "acls"
    assert not run_tests(mixed).ok


def test_malformed_rules_become_findings() -> None:
    base = policy(
        acls=[
            "nope",
            {"action": "drop", "src": ["*"], "dst": ["*:*"]},
            acl(["*"], ["tag:k8s", "tag:k8s:443"]),
            {"action": "accept", "src": "*"},
        ],
        grants=[{"src": ["*"], "dst": ["*"]}, {"src": ["*"], "dst": ["*"], "ip": ["tcp:x"]}],
        tests=[{"src": "alice@example.com", "accept": ["tag:k8s"]}, "nope"],
    )
    model = build_model(base)
    where = sorted(f.where for f in model.findings)
    assert where == ["acls[0]", "acls[1]", "acls[2]", "acls[3]", "grants[0]", "grants[1]"]
    # The good destination of acls[2] still counts.
    assert reachable(model, "alice@example.com", "tag:k8s", 443).allowed
    report = run_tests(base)
    assert {p.where for p in report.problems} >= {"tests[0]", "tests[1]"}
    assert not report.ok


# -- who reaches -----------------------------------------------------------------------------


def test_who_reaches_a_tag() -> None:
    base = policy(
        acls=[acl(["group:ml-readers"], ["tag:k8s:443"]), acl(["tag:ci"], ["tag:other:443"])],
        grants=[
            {"src": ["*"], "dst": ["*"], "ip": ["tcp:443"]},
            {"src": ["group:ml-engineers"], "dst": ["100.64.0.0/10"], "ip": ["*"]},
            {"src": ["group:ml-engineers"], "dst": ["tag:k8s"], "app": {"x": [{}]}},
        ],
    )
    reaches = who_reaches(base, "tag:k8s", 443, origin_of=stack_origin)
    found = [(r.selector, r.rule.label, r.via, r.certain) for r in reaches]
    assert found == [
        ("group:ml-readers", "acls[0] (base)", "tag:k8s", True),
        ("*", "grants[0] (base)", "*", True),
        ("group:ml-engineers", "grants[1] (stack)", "100.64.0.0/10", False),
    ]
    assert who_reaches(base, "k8s", 80, origin_of=stack_origin) == [reaches[2]]


# -- properties ------------------------------------------------------------------------------

SOURCES = [
    "*",
    "group:ml-readers",
    "group:ml-engineers",
    "alice@example.com",
    "bob@example.com",
    "tag:ci",
    "autogroup:member",
    "autogroup:tagged",
    "user:*@example.com",
    "autogroup:admin",
    "100.64.0.0/10",
]
HOSTS = ["tag:k8s", "tag:ci", "tag:tsrecorder", "*", "alice@example.com"]
PORTS = ["*", "443", "80,443", "400-500", "22"]
IDENTITIES = [
    "alice@example.com",
    "bob@example.com",
    "dan@other.example",
    "tag:ci",
    "tag:k8s",
    "group:ml-readers",
    "100.100.1.1",
]
DESTINATIONS = ["tag:k8s", "tag:ci", "tag:tsrecorder", "alice@example.com"]

acl_rules = st.builds(
    lambda src, dst, ports, proto: acl(
        src, [f"{h}:{ports}" for h in dst], **({"proto": proto} if proto else {})
    ),
    st.lists(st.sampled_from(SOURCES), min_size=1, max_size=2),
    st.lists(st.sampled_from(HOSTS), min_size=1, max_size=2),
    st.sampled_from(PORTS),
    st.sampled_from([None, "tcp", "udp"]),
)
grant_rules = st.builds(
    lambda src, dst, ip: {"src": src, "dst": dst, "ip": ip},
    st.lists(st.sampled_from(SOURCES), min_size=1, max_size=2),
    st.lists(st.sampled_from(HOSTS), min_size=1, max_size=2),
    st.lists(
        st.sampled_from(["*", "443", "tcp:443", "udp:53", "tcp:80-90", "tcp:*"]),
        min_size=1,
        max_size=2,
    ),
)
policies = st.builds(
    lambda acls, grants: policy(acls=acls, grants=grants),
    st.lists(acl_rules, max_size=3),
    st.lists(grant_rules, max_size=3),
)
queries = st.tuples(
    st.sampled_from(IDENTITIES),
    st.sampled_from(DESTINATIONS),
    st.sampled_from([22, 53, 80, 85, 443, 450, 8080]),
    st.sampled_from(["tcp", "udp"]),
)


@settings(max_examples=150, deadline=None)
@given(policies, st.one_of(acl_rules, grant_rules), queries)
def test_adding_a_rule_never_takes_access_away(base: Any, extra: Any, query: Any) -> None:
    before = reachable(base, *query)
    bigger = copy.deepcopy(base)
    bigger["grants" if "ip" in extra else "acls"].append(extra)
    after = reachable(bigger, *query)
    if before.allowed:
        assert after.allowed
    if after.verdict == "denied":
        assert before.verdict == "denied"


@settings(max_examples=100, deadline=None)
@given(policies, st.lists(queries, min_size=1, max_size=6))
def test_tests_written_from_decisions_pass(base: Any, asked: Any) -> None:
    tests = []
    for src, dst, port, proto in asked:
        decision = reachable(base, src, dst, port, proto)
        if decision.verdict != "undecidable":
            kind = "accept" if decision.allowed else "deny"
            tests.append({"src": src, "proto": proto, kind: [f"{dst}:{port}"]})
    report = run_tests({**base, "tests": tests})
    assert report.ok, report.render()
    assert report.passed == len(tests)


def test_module_names_its_public_api() -> None:
    assert {"reachable", "run_tests", "who_reaches", "acls_style"} <= set(evaluate.__all__)
