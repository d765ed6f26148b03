"""ConfigReader: one object of config in either spelling, problems under camelCase paths."""

import pytest
from tailscale_cluster_access.core.config.reader import ConfigReader, snake
from tailscale_cluster_access.core.identifiers import (
    CHART_VERSION,
    DNS_LABEL,
    TAG,
    chart_version_tuple,
)
from tailscale_cluster_access.core.problems import Problem


def test_args_are_read_in_snake_case_and_named_in_camel_case() -> None:
    problems: list[Problem] = []
    reader = ConfigReader({"kubernetes_groups": "x"}, "access[0]", problems, "args")
    assert reader.string_list("kubernetesGroups") == ()
    assert problems[0].key == "access[0].kubernetesGroups"


def test_args_may_use_the_schema_spelling() -> None:
    reader = ConfigReader({"recordSessions": True}, "", [], "args")
    assert reader.boolean("recordSessions", False) is True


def test_both_spellings_of_one_arg_are_a_problem_reported_once() -> None:
    problems: list[Problem] = []
    reader = ConfigReader({"record_sessions": True, "recordSessions": False}, "a", problems,
                          "args")
    reader.boolean("recordSessions", False)
    reader.has("recordSessions")
    reader.finish()
    assert [p.key for p in problems] == ["a.recordSessions"]
    assert "record_sessions and as recordSessions" in problems[0].message


def test_config_is_read_in_camel_case_only() -> None:
    problems: list[Problem] = []
    reader = ConfigReader({"record_sessions": True}, "", problems)
    assert reader.boolean("recordSessions", False) is False
    reader.finish()
    assert [p.key for p in problems] == ["record_sessions"]


@pytest.mark.parametrize("value", ["²", "1" * 30, "-1", " 2"])
def test_integers_refuse_what_is_not_a_small_ascii_number(value: str) -> None:
    problems: list[Problem] = []
    ConfigReader({"replicas": value}, "", problems).integer("replicas", 1, minimum=1)
    assert [p.key for p in problems] == ["replicas"]


def test_snake() -> None:
    assert snake("kubernetesGroups") == "kubernetes_groups"
    assert snake("s3") == "s3"


@pytest.mark.parametrize("value", ["gpu\n", "gpu-", "GPU", "gp u", "\uff47\uff50\uff55"])
def test_dns_labels_match_the_whole_value_in_ascii(value: str) -> None:
    assert not DNS_LABEL.match(value)


def test_tags_refuse_a_trailing_newline() -> None:
    assert TAG.match("tag:k8s") and not TAG.match("tag:k8s\n")


@pytest.mark.parametrize(
    "version", ["01.92.3", "1.092.3", "1.92.3\n", "\u0661.\u0669\u0662.\u0663", "1.92"])
def test_chart_versions_are_plain_semantic_versions(version: str) -> None:
    assert not CHART_VERSION.match(version)
    assert chart_version_tuple(version) is None


def test_chart_version_tuple() -> None:
    assert chart_version_tuple("1.102.3") == (1, 102, 3)
