"""The format-preserving merge: the base file's text is kept, the stack's entries spliced in."""

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tailscale_cluster_access.core.policy import hujson
from tailscale_cluster_access.core.policy.formatted import ADDED_BY, render_merged
from tailscale_cluster_access.core.policy.hujson.syntax import scan
from tailscale_cluster_access.core.policy.merge import merge_policies

MAX_EXAMPLES = 300
COUNTS = {"examples": 0, "comments": 0, "added runs": 0}

BASE = """// Header comment.
{
	"groups": {
		// Nested comment before a group.
		"group:sre": ["carol@example.com"], // inline after a group
	},
	/* Block comment before acls. */
	"acls": [
		{
			"action": "accept", // inline, inside an entry
			"src": ["group:sre"],
			"dst": ["tag:ci:22"] /* no trailing comma */
		}
		// last comment of the list
	],
	"autoApprovers": {"routes": {"10.0.0.0/8": ["tag:ci"]}}
}
// Trailer comment.
"""
FRAGMENT = {
    "groups": {"group:ml": ["alice@example.com"]},
    "tagOwners": {"tag:k8s": ["group:ml"]},
    "acls": [{"action": "accept", "src": ["group:ml"], "dst": ["tag:k8s:443"]}],
    "autoApprovers": {"routes": {"10.0.0.0/8": ["tag:k8s"], "10.1.0.0/16": ["tag:k8s"]}},
}


def _render(base_text: str, fragments: list[tuple[str, dict[str, Any]]]) -> tuple[str, Any]:
    merged = merge_policies(hujson.parse(base_text).data if base_text.strip() else {}, fragments)
    rendered = render_merged(base_text, merged, fragments)
    assert rendered.notes == []
    return rendered.text, merged


def _is_subsequence(short: str, long: str) -> bool:
    chars = iter(long)
    return all(char in chars for char in short)


def test_the_base_text_is_kept_and_the_entries_are_spliced_in() -> None:
    text, merged = _render(BASE, [("prod", FRAGMENT)])
    assert hujson.parse(text).data == merged
    assert _is_subsequence(BASE, text)
    for comment in ("// Header comment.", "// Nested comment before a group.",
                    "// inline after a group", "/* Block comment before acls. */",
                    "// inline, inside an entry", "/* no trailing comma */",
                    "// last comment of the list", "// Trailer comment."):
        assert comment in text
    assert f"\t\t// prod: {ADDED_BY}\n\t\t\"group:ml\": [\"alice@example.com\"],\n\t}}" in text
    assert '["tag:ci", /* prod: added by tailscale-cluster-access */ "tag:k8s"]' in text
    assert '"routes": {"10.0.0.0/8": [' in text
    assert f'\n\n\t// prod: {ADDED_BY}\n\t"tagOwners": {{' in text
    # The base's last acl had no comma: one is added, the rest of its text is unchanged.
    assert '"dst": ["tag:ci:22"] /* no trailing comma */\n\t\t},\n\t\t// last comment' in text


def test_merging_again_changes_nothing() -> None:
    text, _ = _render(BASE, [("prod", FRAGMENT)])
    assert _render(text, [("prod", FRAGMENT)])[0] == text


def test_an_empty_base_is_rendered_canonically() -> None:
    for base in ("", "{}", "// only a comment\n{}\n"):
        text, merged = _render(base, [("prod", FRAGMENT)])
        document = hujson.parse(base) if base.strip() else hujson.PolicyDocument({})
        assert text == document.dumps(merged)


def test_a_changed_base_entry_falls_back_to_canonical_with_a_note() -> None:
    document = hujson.parse(BASE)
    changed = {**document.data, "groups": {"group:sre": ["dave@example.com"]}}
    rendered = render_merged(BASE, changed, [])
    assert rendered.text == document.dumps(changed)
    assert len(rendered.notes) == 1
    assert 'groups["group:sre"]' in rendered.notes[0]
    assert "not kept" in rendered.notes[0]


def test_crlf_and_space_indented_bases_keep_their_style() -> None:
    base = '{\r\n  "groups": {\r\n    "group:a": ["a@example.com"], // a\r\n  },\r\n}\r\n'
    text, merged = _render(base, [("dev", {"groups": {"group:b": ["b@example.com"]}})])
    assert hujson.parse(text).data == merged
    assert f'    // dev: {ADDED_BY}\r\n    "group:b": ["b@example.com"],\r\n  }}' in text


def test_entries_held_by_several_fragments_name_them_all() -> None:
    rule = {"action": "accept", "src": ["group:x"], "dst": ["tag:x:1"]}
    text, _ = _render(BASE, [("b", {"acls": [rule]}), ("a", {"acls": [rule]})])
    assert f"// a, b: {ADDED_BY}" in text


def test_scan_records_every_value_span() -> None:
    document, root = scan(BASE)
    assert root.value == document.data
    assert BASE[root.start] == "{" and BASE[root.end - 1] == "}"
    acls = root.children[1]
    assert json.loads(BASE[acls.children[0].children[0].start:acls.children[0].children[0].end]) \
        == "accept"


def test_plan_cluster_keeps_the_repo_base_comments() -> None:
    from conftest import PROJECT_ROOT, stack_config
    from tailscale_cluster_access.core.cluster_plan import plan_cluster

    plan = plan_cluster(stack_config("dev"), PROJECT_ROOT)
    base_text = (PROJECT_ROOT / "policies" / "base.hujson").read_text()
    assert plan.format_notes == []
    assert "// SRE keeps SSH to the CI runners." in plan.policy
    assert ADDED_BY in plan.policy
    assert _is_subsequence(base_text, plan.policy)
    assert hujson.parse(plan.policy).data == plan.merged


@pytest.mark.parametrize(("stack", "manage"), [("dev", True), ("prod", True),
                                               ("staging", True), ("dev", False)])
def test_the_written_policy_parses_to_what_was_verified(stack: str, manage: bool) -> None:
    # The splice is checked to give the merged data back; the ownership record is a comment.
    from conftest import PROJECT_ROOT, stack_config
    from tailscale_cluster_access.core.cluster_plan import plan_cluster

    config = stack_config(stack)
    config["policy"] = {**config.get("policy", {}), "manage": manage}
    plan = plan_cluster(config, PROJECT_ROOT)
    assert hujson.parse(plan.policy).data == (plan.merged if manage else plan.fragment)


def test_the_fleet_plan_keeps_the_base_file_s_text() -> None:
    from conftest import PROJECT_ROOT
    from tailscale_cluster_access.core.fleet import plan_fleet, synthetic_fleet

    fleet = synthetic_fleet(3, project_root=PROJECT_ROOT)
    base_text = (PROJECT_ROOT / "policies" / "base.hujson").read_text()
    plan = plan_fleet(list(fleet.items()), base_text)
    assert plan.format_notes == ()
    assert "// SRE keeps SSH to the CI runners." in plan.policy
    for stack in fleet:
        assert f"// {stack}: added by tailscale-cluster-access" in plan.policy


# -- property ------------------------------------------------------------------------

USERS = [f"user{n}@example.com" for n in range(4)]
TAGS = [f"tag:t{n}" for n in range(4)]
CIDRS = ["10.0.0.0/8", "10.1.0.0/16", "192.168.0.0/24"]


def _owners(name: str) -> list[str]:
    """Group members and tag owners follow from the name, so bases and fragments agree."""
    return [USERS[sum(map(ord, name)) % len(USERS)]]


def _policy(draw: st.DrawFn) -> dict[str, Any]:
    policy: dict[str, Any] = {}
    if draw(st.booleans()):
        policy["groups"] = {g: _owners(g) for g in draw(
            st.lists(st.sampled_from([f"group:g{n}" for n in range(5)]), unique=True))}
    if draw(st.booleans()):
        policy["tagOwners"] = {t: _owners(t) for t in draw(st.lists(st.sampled_from(TAGS),
                                                                     unique=True))}
    if draw(st.booleans()):
        policy["acls"] = draw(st.lists(st.fixed_dictionaries({
            "action": st.just("accept"),
            "src": st.lists(st.sampled_from(USERS), min_size=1, max_size=2),
            "dst": st.lists(st.sampled_from([f"{t}:443" for t in TAGS]), min_size=1, max_size=2),
        }), max_size=3))
    if draw(st.booleans()):
        policy["autoApprovers"] = {"routes": draw(st.dictionaries(
            st.sampled_from(CIDRS), st.lists(st.sampled_from(TAGS), unique=True), max_size=3))}
    if draw(st.booleans()):
        policy["ssh"] = draw(st.lists(st.fixed_dictionaries({
            "action": st.just("check"), "src": st.lists(st.sampled_from(USERS), max_size=2),
            "dst": st.lists(st.sampled_from(TAGS), max_size=2), "users": st.just(["root"])}),
            max_size=2))
    return policy


@st.composite
def commented_base(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A base policy's text with comments of every kind, and those comments."""
    data = _policy(draw)
    if draw(st.booleans()):
        data["randomizeClientPort"] = draw(st.booleans())
    unit = draw(st.sampled_from(["\t", "  ", "    "]))
    numbers = itertools.count()
    comments: list[str] = []

    def comment(block_only: bool = False) -> str:
        kind = draw(st.sampled_from(["", "", "line", "block"]))
        if not kind:
            return ""
        number = next(numbers)
        text = (f"/* c{number}: {{ ] , */" if block_only or kind == "block"
                else f"// c{number}: }} [ ,")
        comments.append(text)
        return text

    def emit(value: Any, depth: int, one_line: bool) -> str:
        if isinstance(value, (dict, list)) and not value and draw(st.booleans()):
            inside = comment()
            opener, closer = ("{", "}") if isinstance(value, dict) else ("[", "]")
            if inside:
                return f"{opener}\n{unit * (depth + 1)}{inside}\n{unit * depth}{closer}"
        if not isinstance(value, (dict, list)) or not value:
            return json.dumps(value)
        pairs = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
        opener, closer = ("{", "}") if isinstance(value, dict) else ("[", "]")
        one_line = one_line or (depth >= 2 and draw(st.booleans()))
        trailing = draw(st.booleans())
        if one_line:
            parts = []
            for key, item in pairs:
                before = comment(block_only=True)
                member = (f"{json.dumps(key)}: " if key is not None else "") + emit(item, 0, True)
                parts.append(f"{before} {member}" if before else member)
            return opener + ", ".join(parts) + ("," if trailing else "") + closer
        pad = unit * (depth + 1)
        lines: list[str] = []
        for index, (key, item) in enumerate(pairs):
            before = comment()
            if before:
                lines.append(pad + before)
            head = ""
            if key is not None:
                middle = comment(block_only=True)
                head = f"{json.dumps(key)}: {middle + ' ' if middle else ''}"
            comma = "," if index < len(pairs) - 1 or trailing else ""
            after = comment()
            lines.append(pad + head + emit(item, depth + 1, False) + comma
                         + (f" {after}" if after else ""))
        last = comment()
        if last:
            lines.append(pad + last)
        return opener + "\n" + "\n".join(lines) + "\n" + unit * depth + closer

    # Tailscale reads section names without regard to case: "ACLs" gets the stacks' acls.
    data = {draw(st.sampled_from([key, key.upper() if key == "acls" else key[0].upper() + key[1:]]))
            if draw(st.booleans()) else key: value for key, value in data.items()}
    header, body, trailer = comment(), emit(data, 0, False), comment()
    text = (header + "\n" if header else "") + body + "\n" + (trailer + "\n" if trailer else "")
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text, comments


@st.composite
def fragments(draw: st.DrawFn) -> list[tuple[str, dict[str, Any]]]:
    count = draw(st.integers(min_value=1, max_value=3))
    return [(f"stack-{n}", _policy(draw)) for n in range(count)]


@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(commented_base(), fragments())
def test_base_comments_survive_and_the_output_is_the_merge(
    base: tuple[str, list[str]], stacks: list[tuple[str, dict[str, Any]]]
) -> None:
    base_text, comments = base
    text, merged = _render(base_text, stacks)
    assert canonical_json(hujson.parse(text).data) == canonical_json(merged)
    document = hujson.parse(base_text)
    if document.data:
        assert _is_subsequence(base_text, text)
        for comment_text in comments:
            assert comment_text in text
    # Idempotent: merging the output again with the same fragments gives the same text.
    assert _render(text, stacks)[0] == text
    # Order-independent: the fragments in another order give the same data and text.
    again, merged_again = _render(base_text, stacks[::-1])
    assert merged_again == merged
    assert again == text
    COUNTS["examples"] += 1
    COUNTS["comments"] += len(comments)
    COUNTS["added runs"] += text.count(ADDED_BY)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def test_the_property_ran_enough_examples() -> None:
    """Runs after the property in file order; prints what it covered (`pytest -s`)."""
    print(f"format-preserving merge property: {COUNTS}")
    if COUNTS["examples"]:
        assert COUNTS["examples"] >= MAX_EXAMPLES // 2
        assert COUNTS["comments"] > COUNTS["examples"]
        assert COUNTS["added runs"] > 0


@pytest.mark.parametrize("base", ["{\n}\n", '{"a": 1}', '{"groups": {}}', '{"groups": { /* c */ }}',
                                  '\ufeff{\n\t"Groups": {\n\t\t// none yet\n\t},\n}\n'])
def test_small_bases(base: str) -> None:
    text, merged = _render(base, [("s", {"groups": {"group:a": ["a@example.com"]}})])
    assert hujson.parse(text).data == merged
    assert _is_subsequence(base, text)
    if hujson.parse(base).data:
        assert f"// s: {ADDED_BY}" in text


def test_an_empty_section_opens_into_lines() -> None:
    text, _ = _render('{\n\t"acls": [],\n}\n', [("s", FRAGMENT)])
    assert text.startswith(f'{{\n\t"acls": [\n\t\t// s: {ADDED_BY}\n\t\t{{\n')


def test_a_plan_warns_when_the_base_text_could_not_be_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from conftest import PROJECT_ROOT, stack_config
    from tailscale_cluster_access.core import cluster_plan
    from tailscale_cluster_access.core.policy import compose
    from tailscale_cluster_access.core.policy.formatted import Rendered

    def canonical_only(base_text: str, merged: Any, *_: Any) -> Rendered:
        return Rendered(hujson.parse(base_text).dumps(merged), ["base comments were dropped"])

    monkeypatch.setattr(compose, "render_merged", canonical_only)
    plan = cluster_plan.plan_cluster(stack_config("dev"), PROJECT_ROOT)
    assert plan.format_notes == [f"{plan.spec.cluster}: base comments were dropped"]
    assert plan.format_notes[0] in plan.warnings
    assert ADDED_BY not in plan.policy
