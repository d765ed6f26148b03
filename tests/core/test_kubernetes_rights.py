"""Effective sensitive rights of ClusterRoles (bootstrap policy transcription and matching)."""

import pytest
from tailscale_cluster_access.core.kubernetes_rights import (
    BUILTIN_ROLES,
    RIGHT_DESCRIPTIONS,
    VOCABULARY,
    builtin_role_rules,
    group_cluster_roles,
    group_rights,
    impersonation_targets,
    restricted_rights,
    role_rights,
    rule_rights,
    sensitive_rights,
)

EDIT_RIGHTS = [
    "impersonate",
    "pods:attach",
    "pods:create",
    "pods:exec",
    "secrets:read",
    "serviceaccounts:token",
    "workloads:write",
]


def rule(groups: list[str], resources: list[str], verbs: list[str], **extra: list[str]) -> dict:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs, **extra}


def grants(rules: list[dict], group: str, resource: str, verb: str) -> bool:
    """Literal (no wildcard) lookup in transcribed rules, to check facts of the source."""
    return any(
        group in r.get("apiGroups", ()) and resource in r["resources"] and verb in r["verbs"]
        for r in rules
        if "resources" in r
    )


def test_vocabulary_is_sorted_and_described_one_line_each():
    assert list(VOCABULARY) == sorted(RIGHT_DESCRIPTIONS)
    assert {
        "secrets:read",
        "pods:exec",
        "pods:attach",
        "pods:create",
        "workloads:write",
        "rbac:bind-escalate",
        "impersonate",
        "nodes:proxy",
        "namespaces:delete",
        "cluster-admin",
    } <= set(VOCABULARY)
    assert all(text and "\n" not in text for text in RIGHT_DESCRIPTIONS.values())
    assert RIGHT_DESCRIPTIONS["secrets:read"] == (
        "get/list/watch secrets: read every credential in scope"
    )


def test_view_has_no_sensitive_right():
    assert sensitive_rights(["view"]) == []


def test_view_rules_exclude_secrets_and_exec():
    view = builtin_role_rules("view")
    assert not any("secrets" in r["resources"] for r in view)
    assert not any("pods/exec" in r["resources"] or "pods/attach" in r["resources"] for r in view)
    assert grants(view, "", "pods", "get") and grants(view, "", "pods/log", "get")


def test_edit_rights_exactly():
    assert sensitive_rights(["edit"]) == EDIT_RIGHTS


def test_edit_rule_facts_from_the_source():
    edit = builtin_role_rules("edit")
    for verb in ("get", "list", "watch", "create", "update", "delete"):
        assert grants(edit, "", "secrets", verb)
    for resource in ("pods/exec", "pods/attach"):
        assert grants(edit, "", resource, "get") and grants(edit, "", resource, "create")
    assert grants(edit, "", "serviceaccounts", "impersonate")
    assert grants(edit, "", "serviceaccounts/token", "create")
    assert impersonation_targets(edit) == {"serviceaccounts"}
    assert not any(r["apiGroups"] == ["rbac.authorization.k8s.io"] for r in edit)


def test_aggregation_admin_contains_edit_contains_view():
    view, edit, admin = (builtin_role_rules(name) for name in ("view", "edit", "admin"))
    assert edit[-len(view) :] == view
    assert admin[-len(edit) :] == edit
    assert (len(view), len(edit), len(admin)) == (10, 23, 25)


def test_admin_adds_rbac_bind_escalate_through_rolebindings():
    assert sensitive_rights(["admin"]) == sorted([*EDIT_RIGHTS, "rbac:bind-escalate"])
    admin = builtin_role_rules("admin")
    assert grants(admin, "rbac.authorization.k8s.io", "rolebindings", "create")
    assert not grants(admin, "rbac.authorization.k8s.io", "roles", "bind")
    assert not grants(admin, "", "namespaces", "delete")


def test_cluster_admin_lists_the_whole_vocabulary():
    assert sensitive_rights(["cluster-admin"]) == list(VOCABULARY)
    assert impersonation_targets(builtin_role_rules("cluster-admin")) == {
        "groups",
        "serviceaccounts",
        "uids",
        "userextras",
        "users",
    }


def test_builtin_rules_are_fresh_copies():
    builtin_role_rules("view")[0]["verbs"].append("delete")
    assert "delete" not in builtin_role_rules("view")[0]["verbs"]
    assert set(BUILTIN_ROLES) == {"admin", "cluster-admin", "edit", "view"}
    with pytest.raises(KeyError):
        builtin_role_rules("system:node")


def test_union_over_roles_and_unknown_role():
    assert sensitive_rights(["view", "no-such-role", "edit", "view"]) == sorted(
        [*EDIT_RIGHTS, "unknown:no-such-role"]
    )
    assert sensitive_rights([]) == []
    assert role_rights("no-such-role") is None


def test_system_masters_is_cluster_admin():
    assert group_cluster_roles(["system:masters"], []) == ["cluster-admin"]
    assert group_rights(["system:masters"], []) == list(VOCABULARY)


def test_group_rights_follow_bindings():
    bindings = [("readers", "view"), ("devs", "edit"), ("ops", "gpu-ops"), ("devs", "gpu-ops")]
    custom = {"gpu-ops": [rule([""], ["nodes/proxy"], ["get"])]}
    assert group_rights(["readers"], bindings, custom) == []
    assert group_rights(["devs"], bindings, custom) == sorted([*EDIT_RIGHTS, "nodes:proxy"])
    assert group_rights(["ops"], bindings) == ["unknown:gpu-ops"]
    assert group_rights(["nobody"], bindings) == []
    assert group_cluster_roles(["devs", "readers"], bindings) == ["edit", "gpu-ops", "view"]


def test_custom_role_with_wildcards():
    custom = {
        "all-core-read": [rule([""], ["*"], ["get", "list", "watch"])],
        "any-verb-secrets": [rule(["*"], ["secrets"], ["*"])],
        "star-star": [rule(["*"], ["*"], ["*"])],
        "exec-anything": [rule([""], ["*/exec"], ["create"])],
    }
    assert sensitive_rights(["all-core-read"], custom) == [
        "nodes:proxy",
        "pods:attach",
        "pods:exec",
        "secrets:read",
    ]
    assert sensitive_rights(["any-verb-secrets"], custom) == ["secrets:read"]
    assert sensitive_rights(["star-star"], custom) == list(VOCABULARY)
    assert sensitive_rights(["exec-anything"], custom) == ["pods:exec"]


def test_cluster_admin_needs_all_three_wildcards():
    assert "cluster-admin" not in rule_rights([rule(["*"], ["*"], ["get", "list"])])
    assert "cluster-admin" not in rule_rights([rule([""], ["*"], ["*"])])
    assert "cluster-admin" not in rule_rights([rule(["*"], ["pods"], ["*"])])


def test_matching_follows_the_rbac_authorizer():
    # A resource does not cover its subresources; the group must match.
    assert rule_rights([rule([""], ["pods"], ["*"])]) == {"pods:create", "workloads:write"}
    assert rule_rights([rule(["example.com"], ["secrets"], ["get"])]) == set()
    assert rule_rights([rule([""], ["secrets"], ["create", "update"])]) == set()
    assert rule_rights([{"nonResourceURLs": ["*"], "verbs": ["*"]}]) == set()
    assert rule_rights([rule([""], ["pods/exec"], [])]) == set()


@pytest.mark.parametrize(
    ("granted", "right"),
    [
        (rule([""], ["pods/exec"], ["get"]), "pods:exec"),
        (rule([""], ["pods/attach"], ["create"]), "pods:attach"),
        (rule(["batch"], ["cronjobs"], ["patch"]), "workloads:write"),
        (rule(["apps"], ["daemonsets"], ["update"]), "workloads:write"),
        (rule(["rbac.authorization.k8s.io"], ["clusterroles"], ["escalate"]), "rbac:bind-escalate"),
        (rule(["rbac.authorization.k8s.io"], ["roles"], ["bind"]), "rbac:bind-escalate"),
        (
            rule(["rbac.authorization.k8s.io"], ["clusterrolebindings"], ["update"]),
            "rbac:bind-escalate",
        ),
        (rule([""], ["users", "groups"], ["impersonate"]), "impersonate"),
        (rule(["authentication.k8s.io"], ["userextras/scopes"], ["impersonate"]), "impersonate"),
        (rule([""], ["nodes/proxy"], ["watch"]), "nodes:proxy"),
        (rule([""], ["namespaces"], ["delete"]), "namespaces:delete"),
        (rule([""], ["serviceaccounts/token"], ["create"]), "serviceaccounts:token"),
    ],
)
def test_each_right(granted: dict, right: str):
    assert rule_rights([granted]) == {right}


def test_apps_read_or_delete_is_not_workloads_write():
    assert rule_rights([rule(["apps"], ["deployments"], ["get", "delete"])]) == set()
    assert rule_rights([rule(["rbac.authorization.k8s.io"], ["roles"], ["create"])]) == set()


def test_impersonation_targets_say_whether_restricted():
    assert impersonation_targets([rule([""], ["users"], ["impersonate"])]) == {"users"}
    assert impersonation_targets([rule([""], ["users"], ["get"])]) == set()
    assert impersonation_targets(builtin_role_rules("view")) == set()


def test_resource_names_are_counted_and_reported_as_restricted():
    one_secret = rule([""], ["secrets"], ["get"], resourceNames=["tls-cert"])
    exec_all = rule([""], ["pods/exec"], ["create"])
    assert rule_rights([one_secret, exec_all]) == {"secrets:read", "pods:exec"}
    assert restricted_rights([one_secret, exec_all]) == {"secrets:read"}
    unrestricted_too = rule([""], ["secrets"], ["list"])
    assert restricted_rights([one_secret, unrestricted_too]) == set()
    assert restricted_rights(builtin_role_rules("edit")) == set()
    custom = {"cert-reader": [one_secret]}
    assert sensitive_rights(["cert-reader"], custom) == ["secrets:read"]


def test_custom_role_named_like_a_builtin_adds_to_it():
    custom = {"view": [rule([""], ["secrets"], ["get"])]}
    assert sensitive_rights(["view"], custom) == ["secrets:read"]
    assert sensitive_rights(["edit"], {"edit": []}) == EDIT_RIGHTS


def test_bad_inputs_are_rejected():
    with pytest.raises(TypeError):
        sensitive_rights("edit")
    with pytest.raises(TypeError):
        group_rights("system:masters", [])
    with pytest.raises(ValueError):
        sensitive_rights(["edit", ""])
    with pytest.raises(TypeError):
        rule_rights([{"apiGroups": [""], "resources": "secrets", "verbs": ["get"]}])


def test_remembered_rule_answers_follow_the_rule_content():
    # The same rule content asked twice answers the same; a changed copy answers anew.
    reader = rule([""], ["pods"], ["get"])
    assert rule_rights([reader]) == rule_rights([dict(reader)])
    writer = {**reader, "verbs": ["get", "create"]}
    assert "pods:create" in rule_rights([writer])
    assert "pods:create" not in rule_rights([reader])


def test_rules_that_cannot_be_remembered_still_raise_the_usual_error():
    with pytest.raises(TypeError, match="must be a list of strings"):
        rule_rights([{"apiGroups": [""], "resources": "secrets", "verbs": ["get"]}])
    # Tuples and lists of the same strings are the same rule.
    assert rule_rights([rule([""], ["secrets"], ["get"])]) == rule_rights(
        [{"apiGroups": ("",), "resources": ("secrets",), "verbs": ("get",)}])


def test_custom_rules_added_to_a_builtin_role_do_not_change_the_builtin_answer():
    extra = [rule([""], ["secrets"], ["get"])]
    assert "secrets:read" in role_rights("view", {"view": extra})
    assert "secrets:read" not in role_rights("view")
