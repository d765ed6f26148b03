"""Tests for the HuJSON policy reader and canonical writer."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tailscale_cluster_access.core.policy import hujson
from tailscale_cluster_access.core.policy.hujson import HujsonError, dumps, parse

# The policy from Tailscale's Kubernetes operator guide, in the style of the
# default policy file (comment blocks, commented-out sections, trailing commas).
GUIDE_POLICY = """\
// Example/default ACLs for unrestricted connections.
{
	// Declare static groups of users. Use autogroups for all users or users with a specific role.
	// "groups": {
	//  	"group:example": ["alice@example.com", "bob@example.com"],
	// },

	// Define the tags which can be applied to devices and by which users.
	"tagOwners": {
		"tag:k8s-operator": [],
		"tag:k8s": ["tag:k8s-operator"], // the operator tags the proxies it creates
	},

	// Define access control lists for users, groups, autogroups, tags,
	// Tailscale IP addresses, and subnet ranges.
	"acls": [
		// Allow all connections.
		// Comment this section out if you want to restrict some connections.
		{"action": "accept", "src": ["*"], "dst": ["*:*"]},
	],

	"grants": [
		{
			"src": ["autogroup:admin"],
			"dst": ["tag:k8s-operator"],
			"app": {
				"tailscale.com/cap/kubernetes": [{
					"impersonate": {
						"groups": ["system:masters"],
					},
				}],
			},
		},
	],

	// Test access rules every time they're saved.
	// "tests": [
	//  	{
	//  		"src": "alice@example.com",
	//  		"accept": ["tag:example"],
	//  		"deny": ["100.101.102.103:443"],
	//  	},
	// ],
}
"""


def error_of(text: str, source: str = "policy.hujson") -> HujsonError:
    with pytest.raises(HujsonError) as info:
        parse(text, source)
    return info.value


# -- reading -------------------------------------------------------------------


def test_comment_markers_inside_strings_are_text() -> None:
    doc = parse('{"url": "https://example.com//x", "c": "/* not a comment */"}')
    assert doc.data == {"url": "https://example.com//x", "c": "/* not a comment */"}


def test_trailing_commas_and_comments_everywhere() -> None:
    text = """
    /* before */ { // after brace
        "a": [1, 2, /* inline */ 3,],
        "b": {"c": true, "d": null,}, // end of line
        "e" /* between */ : /* more */ -1.5e3,
    } // the end
    """
    assert parse(text).data == {
        "a": [1, 2, 3],
        "b": {"c": True, "d": None},
        "e": -1500.0,
    }


def test_numbers_become_int_or_float_like_json() -> None:
    data = parse('{"i": -0, "big": 123456789012345678901234567890, "f": 1E2, "g": 0.5}').data
    assert data == json.loads(
        '{"i": -0, "big": 123456789012345678901234567890, "f": 1E2, "g": 0.5}'
    )
    assert type(data["i"]) is int and type(data["f"]) is float


def test_escapes_and_surrogate_pairs() -> None:
    text = r'{"s": "\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800"}'
    assert parse(text).data == json.loads(text)


def test_key_order_is_kept() -> None:
    assert list(parse('{"z": 1, "a": 2, "m": 3}').data) == ["z", "a", "m"]


def test_byte_order_mark_is_ignored() -> None:
    assert parse('\ufeff{"a": 1}').data == {"a": 1}
    assert error_of('\ufeff{"a": x}').column == 7


@pytest.mark.parametrize(
    ("text", "line", "column", "reason"),
    [
        ('{"a": 1}\n}', 2, 1, "trailing garbage after value"),
        ('{\n\t"a": "http://x\n}', 2, 7, "unterminated string"),
        ('{\n\t"a": 1,\n\t/* never closed\n}', 3, 2, "unterminated /* comment"),
        ('{\n\t"a": [1, 2,\n', 2, 7, "unterminated array"),
        ('{\n\t"a": 1,\n', 1, 1, "unterminated object"),
        ('{"a": "bad \\x escape"}', 1, 12, "invalid escape '\\x'"),
        ('{"a": "\\u12g4"}', 1, 8, "invalid \\u escape"),
        ('{"a": "tab\there"}', 1, 11, "control character U+0009"),
        ('{\n  "a": NaN\n}', 2, 8, "NaN is not allowed"),
        ('{"a": Infinity}', 1, 7, "Infinity is not allowed"),
        ('{"a": -Infinity}', 1, 7, "-Infinity is not allowed"),
        ('{"a": 007}', 1, 7, "leading zeros"),
        ('{"a": 1.}', 1, 7, "invalid number '1.'"),
        ('{"a": .5}', 1, 7, "unexpected character '.'"),
        ('{"a": +1}', 1, 7, "unexpected character '+'"),
        ('{"a": 1e999}', 1, 7, "too large"),
        ('{"a": True}', 1, 7, "unexpected 'True'"),
        ("{'a': 1}", 1, 2, "object keys must be strings"),
        ("{\"a\": 'x'}", 1, 7, "single quotes"),
        ("{a: 1}", 1, 2, "object keys must be strings"),
        ('{"a" 1}', 1, 6, "expected ':'"),
        ('{"a": 1 "b": 2}', 1, 9, "expected ',' or '}'"),
        ('{"a": [1 2]}', 1, 10, "expected ',' or ']'"),
        ('{"a": [1,,2]}', 1, 10, "unexpected ','"),
        ("{,}", 1, 2, "unexpected ','"),
        ('{"a": 1} / 2', 1, 10, "unexpected '/'"),
        ('["a"]', 1, 1, "must be an object"),
        ("// only a comment\n", 2, 1, "policy is empty"),
        ("", 1, 1, "policy is empty"),
        ('{"a": }', 1, 7, "unexpected character '}'"),
    ],
)
def test_malformed_input_reports_position(text: str, line: int, column: int, reason: str) -> None:
    error = error_of(text)
    assert (error.line, error.column) == (line, column), str(error)
    assert reason in error.reason
    assert str(error) == f"policy.hujson:{line}:{column}: {error.reason}"


def test_error_message_format() -> None:
    text = "{\n" + "".join(f'\t"k{i}": 1,\n' for i in range(10)) + '\t"b": 2,\n}\n'
    text = text.replace('\t"b": 2,', '\t"b": 2 x')
    assert str(error_of(text, "policies/base.hujson")) == (
        "policies/base.hujson:12:9: expected ',' or '}' after object member"
    )
    assert str(error_of('{"a": 1} 2', "policies/base.hujson")) == (
        "policies/base.hujson:1:10: trailing garbage after value"
    )


def test_duplicate_keys_report_both_lines() -> None:
    text = '{\n\t"tagOwners": {\n\t\t"tag:a": [],\n\n\t\t"tag:a": ["x@y.z"],\n\t},\n}'
    error = error_of(text)
    assert (error.line, error.column) == (5, 3)
    assert 'duplicate key "tag:a"' in error.reason
    assert "line 3" in error.reason and "line 5" in error.reason
    assert "duplicate key" in error_of('{"a": 1, "b": 2, "a": 1}').reason


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    assert "nested" in error_of('{"a": ' + "[" * 5000).reason


def test_error_is_a_value_error_and_pickles() -> None:
    error = error_of('{"a": x}')
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.source, copy.line, copy.column) == (
        error.reason,
        error.source,
        error.line,
        error.column,
    )
    assert str(copy) == str(error)


def test_default_source_label() -> None:
    with pytest.raises(HujsonError, match=r"^<policy>:1:7: "):
        parse('{"a": x}')


# -- comments ------------------------------------------------------------------


def test_top_level_comments_are_attached_to_keys() -> None:
    doc = parse(GUIDE_POLICY)
    assert doc.header == ["// Example/default ACLs for unrestricted connections."]
    assert doc.comments["tagOwners"] == [
        "// Declare static groups of users. Use autogroups for all users or users"
        " with a specific role.",
        '// "groups": {',
        '//  \t"group:example": ["alice@example.com", "bob@example.com"],',
        "// },",
        "",
        "// Define the tags which can be applied to devices and by which users.",
    ]
    assert doc.comments["acls"][-1] == "// Tailscale IP addresses, and subnet ranges."
    assert "grants" not in doc.comments
    assert doc.trailer[0] == "// Test access rules every time they're saved."
    assert doc.trailer[-1] == "// ],"
    # Nested comments are a documented loss.
    assert "Allow all connections" not in doc.dumps()


def test_comments_after_the_closing_brace_join_the_trailer() -> None:
    doc = parse('{"a": 1, /* in */}\n// out\n')
    assert doc.trailer == ["/* in */", "", "// out"]
    assert parse(doc.dumps()).trailer == doc.trailer


def test_comments_round_trip_through_dumps() -> None:
    doc = parse(GUIDE_POLICY)
    again = parse(doc.dumps())
    assert again == doc
    assert again.dumps() == doc.dumps()


def test_multi_line_block_comment_round_trips() -> None:
    doc = parse('/* a\n   b */\n{\n\t/* c\n\t * d\n\t */\n\t"a": 1,\n}\n')
    assert doc.header == ["/* a\n   b */"]
    assert doc.comments == {"a": ["/* c\n\t * d\n\t */"]}
    assert parse(doc.dumps()) == doc


# -- writing -------------------------------------------------------------------


def test_guide_policy_round_trips_to_canonical_text() -> None:
    doc = parse(GUIDE_POLICY)
    text = doc.dumps()
    assert parse(text).data == doc.data
    assert (
        text
        == """\
// Example/default ACLs for unrestricted connections.
{
	// Declare static groups of users. Use autogroups for all users or users with a specific role.
	// "groups": {
	//  	"group:example": ["alice@example.com", "bob@example.com"],
	// },

	// Define the tags which can be applied to devices and by which users.
	"tagOwners": {
		"tag:k8s-operator": [],
		"tag:k8s": ["tag:k8s-operator"],
	},

	"grants": [
		{
			"src": ["autogroup:admin"],
			"dst": ["tag:k8s-operator"],
			"app": {
				"tailscale.com/cap/kubernetes": [
					{
						"impersonate": {
							"groups": ["system:masters"],
						},
					},
				],
			},
		},
	],

	// Define access control lists for users, groups, autogroups, tags,
	// Tailscale IP addresses, and subnet ranges.
	"acls": [
		{
			"action": "accept",
			"src": ["*"],
			"dst": ["*:*"],
		},
	],

	// Test access rules every time they're saved.
	// "tests": [
	//  	{
	//  		"src": "alice@example.com",
	//  		"accept": ["tag:example"],
	//  		"deny": ["100.101.102.103:443"],
	//  	},
	// ],
}
"""
    )


def test_top_level_keys_in_canonical_order_then_given_order() -> None:
    data = {
        "zeta": 1,
        "sshTests": [],
        "tests": [],
        "nodeAttrs": [],
        "ssh": [],
        "acls": [],
        "alpha": 2,
        "grants": [],
        "autoApprovers": {},
        "postures": {},
        "hosts": {},
        "tagOwners": {},
        "groups": {},
    }
    keys = list(parse(dumps(data)).data)
    assert keys == [*hujson.CANONICAL_KEY_ORDER, "zeta", "alpha"]


def test_nested_key_order_is_kept() -> None:
    data = {"grants": [{"src": ["a"], "dst": ["b"], "ip": ["*"]}], "x": {"b": 1, "a": 2}}
    again = parse(dumps(data)).data
    assert list(again["grants"][0]) == ["src", "dst", "ip"]
    assert list(again["x"]) == ["b", "a"]


def test_short_scalar_lists_inline_long_ones_do_not() -> None:
    short = ["tag:k8s-operator", "group:eng"]
    long = [f"user{i}@example.com" for i in range(8)]
    text = dumps({"groups": {"group:short": short, "group:long": long}, "n": [1, [2]]})
    assert '\t\t"group:short": ["tag:k8s-operator", "group:eng"],\n' in text
    assert '\t\t"group:long": [\n\t\t\t"user0@example.com",\n' in text
    assert '\t"n": [\n\t\t1,\n\t\t[2],\n\t],\n' in text
    widest = max(
        len(line.expandtabs(4)) for line in text.splitlines() if "[" in line and "]" in line
    )
    assert widest <= 100


def test_empty_policy_and_empty_containers() -> None:
    assert dumps({}) == "{}\n"
    assert dumps({}, header=["// h"]) == "// h\n{}\n"
    assert dumps({}, trailer=["// t"]) == "{\n\t// t\n}\n"
    assert dumps({"a": [], "b": {}}) == '{\n\t"a": [],\n\n\t"b": {},\n}\n'


def test_strings_escaped_non_ascii_kept() -> None:
    text = dumps({"s": 'é "q" \\ \n \x00 \u2028 \ud800'})
    assert '"é \\"q\\" \\\\ \\n \\u0000 \u2028 \\ud800"' in text
    text.encode("utf-8")  # lone surrogates must not leak into the output
    assert parse(text).data == {"s": 'é "q" \\ \n \x00 \u2028 \ud800'}


def test_comments_are_validated_and_normalised() -> None:
    text = dumps(
        {"acls": []},
        comments={"acls": ["", "  // one   ", "", "", "/* two */", ""]},
        header=["// h"],
    )
    assert text == '// h\n{\n\t// one\n\n\t/* two */\n\t"acls": [],\n}\n'
    with pytest.raises(ValueError, match="not a comment"):
        dumps({"a": 1}, comments={"a": ["plain text"]})
    with pytest.raises(ValueError, match="span lines"):
        dumps({"a": 1}, header=["// a\n// b"])
    with pytest.raises(ValueError, match="malformed"):
        dumps({"a": 1}, trailer=["/* a */ b */"])
    with pytest.raises(ValueError, match="not in the policy"):
        dumps({"a": 1}, comments={"b": ["// b"]})
    with pytest.raises(TypeError, match="not a string"):
        dumps({"a": 1}, header="// h")


def test_values_json_cannot_hold_are_rejected() -> None:
    with pytest.raises(ValueError):
        dumps({"a": float("nan")})
    with pytest.raises(TypeError):
        dumps({"a": {1: "x"}})
    with pytest.raises(TypeError):
        dumps({"a": {"x"}})
    with pytest.raises(TypeError):
        dumps([])  # type: ignore[arg-type]


def test_tuples_are_written_as_lists() -> None:
    assert parse(dumps({"a": ("x", ("y",))})).data == {"a": ["x", ["y"]]}


# -- properties ----------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    # Text that looks like HuJSON syntax is the interesting case.
    st.sampled_from(["//", "/*", "*/", '"', "\\", "tag:k8s", "a // b /* c */", ",}"]),
)
_json_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
_policies = st.dictionaries(
    st.one_of(st.sampled_from(hujson.CANONICAL_KEY_ORDER), st.text(max_size=8)),
    _json_values,
    max_size=8,
)
_comment_text = st.text(
    st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=20
)
_comment_lines = st.lists(
    st.one_of(
        _comment_text.map(lambda t: "// " + t),
        _comment_text.filter(lambda t: "*/" not in t and not t.endswith("*")).map(
            lambda t: "/* " + t + " */"
        ),
        st.just(""),
    ),
    max_size=4,
)

_settings = settings(max_examples=120, deadline=None)


@_settings
@given(_policies)
def test_dumps_round_trips_and_is_idempotent(data: dict[str, Any]) -> None:
    text = dumps(data)
    again = parse(text).data
    assert again == data
    assert dumps(again) == text
    assert text.endswith("\n") and not text.endswith("\n\n")


@_settings
@given(_policies, st.integers(min_value=0, max_value=3), st.lists(_comment_text, min_size=1))
def test_parse_agrees_with_json_on_plain_json(
    data: dict[str, Any], indent: int, comments: list[str]
) -> None:
    plain = json.dumps(data, indent=indent)
    assert parse(plain).data == json.loads(plain)
    # json.dumps(indent=...) only breaks lines between tokens, so a comment
    # line may go before any line.
    lines = plain.split("\n")
    commented = "\n".join(
        f"// {comments[i % len(comments)]}\n{line}" for i, line in enumerate(lines)
    )
    assert parse(commented).data == data


@_settings
@given(
    st.dictionaries(st.sampled_from(["groups", "acls", "zeta", "tagOwners"]), _json_values),
    st.data(),
)
def test_top_level_comments_round_trip(data: dict[str, Any], draw: st.DataObject) -> None:
    comments = {key: draw.draw(_comment_lines) for key in data}
    header = draw.draw(_comment_lines)
    trailer = draw.draw(_comment_lines)
    text = dumps(data, comments=comments, header=header, trailer=trailer)
    doc = parse(text)

    def normal(lines: list[str]) -> list[str]:
        out: list[str] = []
        for line in lines:
            line = line.rstrip(" \t")
            if line or (out and out[-1]):
                out.append(line)
        return out[:-1] if out and not out[-1] else out

    assert doc.data == data
    assert doc.header == normal(header)
    assert doc.trailer == normal(trailer)
    assert doc.comments == {k: normal(v) for k, v in comments.items() if normal(v)}
    assert doc.dumps() == text
