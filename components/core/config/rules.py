"""The checks a declaration names (`Key.rule`, `Key.item_rule`) and the checks of whole
objects, by spec class: the rules a field's type and pattern cannot say."""

from typing import Any

from ..parts import (
    FleetPolicyArgs,
    FleetStackConfig,
    OperatorInstall,
    ProxyEndpoint,
    RecorderSettings,
)
from ..spec import (
    OAuthSettings,
    PolicySettings,
    ProxySettings,
    RoleBinding,
    S3Storage,
    SessionRecording,
)
from .cluster import check_chart_version, check_proxy, check_proxy_endpoint
from .credentials import check_https_url, check_oauth, check_operator_install
from .fleet import check_fleet_args, check_fleet_config
from .identities import (
    check_identity,
    check_member,
    check_role_binding,
    distinct_bindings,
    distinct_rules,
)
from .policy import check_base_text, check_policy
from .reader import ObjectRule, ValueRule
from .recording import check_recorder_replicas, check_s3

VALUE_RULES: dict[str, ValueRule] = {
    "chart_version": check_chart_version,
    "https_url": check_https_url,
    "base_text": check_base_text,
}
ITEM_RULES: dict[str, Any] = {"identity": check_identity, "member": check_member}
LIST_RULES: dict[str, Any] = {"distinct_rules": distinct_rules,
                              "distinct_bindings": distinct_bindings}
OBJECT_RULES: dict[type, ObjectRule] = {
    ProxySettings: check_proxy,
    ProxyEndpoint: check_proxy_endpoint,
    OAuthSettings: check_oauth,
    OperatorInstall: check_operator_install,
    S3Storage: check_s3,
    SessionRecording: check_recorder_replicas,
    RecorderSettings: check_recorder_replicas,
    PolicySettings: check_policy,
    RoleBinding: check_role_binding,
    FleetStackConfig: check_fleet_config,
    FleetPolicyArgs: check_fleet_args,
}
