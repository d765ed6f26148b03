"""`verify`: compare what the cluster does with what the stack's plan says (run on the tailnet).

    tailscale-cluster-access verify (--stack S | --plan DIR) [--server URL | --tailnet DOMAIN]
        [--as SRC]... [--admin-kubeconfig FILE] [--namespace NS] [--public-endpoint URL]
        [--timeout SECONDS] [--json]

Three checks, each against the plan's access rows (`access.json`, and the policy's `groups`
to tell which rows apply to a user):

- identity: a `SelfSubjectReview` through the API server proxy says who the cluster sees
  (the proxy impersonates the caller); its groups must be the union of the Kubernetes groups
  of the rows that apply to that identity;
- rights (with `--admin-kubeconfig`): for each row's set of Kubernetes groups, a
  `SelfSubjectRulesReview` impersonating those groups, mapped to the plan's `sensitiveRights`
  vocabulary (`core.kubernetes_rights.rule_rights`), must give exactly the row's rights;
- public endpoint (with `--public-endpoint`): it must no longer accept TCP connections.

Exit 0 when every check agrees, 1 when a difference is found or the cluster could not be
asked, 2 on bad input. Tokens are never printed (the console redacts them too).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..core.kubernetes_rights import UNKNOWN_PREFIX, rule_rights
from .kube_api import (
    ApiProblem,
    Endpoint,
    error_reason,
    insecure_context,
    post,
    read_admin_kubeconfig,
    server_url,
)
from .project import InputError

if TYPE_CHECKING:
    from .cli import Console

# The network modules are imported by the functions that use them: every command builds this
# parser, and should not pay for them at start.

EXIT_OK = 0
EXIT_DIFFERENT = 1

SELF_SUBJECT_REVIEWS = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
RULES_REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
AUTHENTICATED = "system:authenticated"
"""The API server adds this group to every authenticated (and impersonated) user."""
MAX_GROUP_SETS = 256
"""At most this many rules reviews per run: one per distinct set of groups in the plan."""
BROAD_SOURCES = frozenset({"*", "autogroup:member"})

RECORDER_HINTS = {
    403: "with enforceRecorder on a grant that matches you, every request through the proxy "
         "gets 403 while the recorder tag resolves to no address (operator 1.94.1 and later)",
    502: "with enableEvents, every request through the proxy gets 502 while the recorder is "
         "unreachable",
}
"""Why the proxy may refuse every request: what to look at when the identity check gets these."""


# -- the checks ------------------------------------------------------------------------------


@dataclass
class Report:
    stack: str
    checks: dict[str, Any] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def as_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "ok": self.ok, "differences": self.differences,
                "notes": self.notes, **self.checks}


def kubernetes_rows(access: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows the API server proxy impersonates for: every row but the operator's own."""
    return [row for row in access if row.get("kind") != "operator"]


def rows_for(username: str, rows: Sequence[Mapping[str, Any]], policy: Mapping[str, Any],
             sources: Sequence[str]) -> list[Mapping[str, Any]]:
    """The rows that apply to the identity: named by `--as`, else the user's own row, the
    rows of the policy groups it is a member of, and the broad rows (`*`,
    `autogroup:member`)."""
    if sources:
        return [row for row in rows if row.get("src") in sources]
    from ..core.policy.sections import section

    groups = section(policy, "groups")
    members = groups if isinstance(groups, Mapping) else {}
    user = username.casefold()

    def applies(src: str) -> bool:
        if src in BROAD_SOURCES or src.casefold() == user:
            return True
        listed = members.get(src)
        return isinstance(listed, list) and any(
            isinstance(member, str) and member.casefold() == user for member in listed)

    return [row for row in rows if applies(str(row.get("src", "")))]


def check_identity(report: Report, proxy: Endpoint, rows: Sequence[Mapping[str, Any]],
                   policy: Mapping[str, Any], sources: Sequence[str], timeout: float) -> None:
    try:
        answer = post(proxy, SELF_SUBJECT_REVIEWS,
                      {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
                      timeout=timeout)
    except ApiProblem as problem:
        hint = RECORDER_HINTS.get(problem.status)
        if hint is None:
            raise
        raise ApiProblem(f"{problem} Is the recorder down? {hint[0].upper()}{hint[1:]}.",
                         problem.status) from None
    status = answer.get("status")
    info = status.get("userInfo") if isinstance(status, Mapping) else None
    username = info.get("username") if isinstance(info, Mapping) else None
    seen = info.get("groups", []) if isinstance(info, Mapping) else None
    if not isinstance(username, str) or not isinstance(seen, list):
        raise ApiProblem(f"{proxy.url}{SELF_SUBJECT_REVIEWS}: the answer has no "
                         "status.userInfo username and groups.")
    cluster_groups = sorted({str(group) for group in seen} - {AUTHENTICATED})
    matched = rows_for(username, rows, policy, sources)
    planned = sorted({str(group) for row in matched for group in row.get("kubernetesGroups", [])})
    report.checks["identity"] = {
        "server": proxy.url, "username": username, "clusterGroups": cluster_groups,
        "rows": [row.get("src") for row in matched], "plannedGroups": planned,
    }
    if not matched:
        report.differences.append(
            f"identity: the cluster sees {username} (groups {_names(cluster_groups)}) but no "
            f"row of the plan applies to it" + (f" (--as {', '.join(sources)})" if sources
                                                 else "; name its source with --as SRC"))
        return
    extra = sorted(set(cluster_groups) - set(planned))
    missing = sorted(set(planned) - set(cluster_groups))
    rows_text = ", ".join(str(row.get("src")) for row in matched)
    if extra:
        report.differences.append(
            f"identity: the cluster sees {username} in groups {_names(extra)} that the plan "
            f"does not give it (rows {rows_text})")
    if missing:
        report.differences.append(
            f"identity: the cluster sees {username} without the planned groups "
            f"{_names(missing)} (rows {rows_text})")


def check_rights(report: Report, admin: Endpoint, rows: Sequence[Mapping[str, Any]],
                 namespace: str, timeout: float) -> None:
    by_groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups = tuple(sorted({str(g) for g in row.get("kubernetesGroups", [])}))
        if groups:
            by_groups.setdefault(groups, []).append(row)
        else:
            report.notes.append(f"rights: row {row.get('src')} gives no Kubernetes groups "
                                "(the proxy impersonates the user alone); not checked")
    if len(by_groups) > MAX_GROUP_SETS:
        raise InputError(f"the plan has {len(by_groups)} distinct sets of Kubernetes groups; "
                         f"verify checks at most {MAX_GROUP_SETS}.")
    results = []
    for groups, group_rows in sorted(by_groups.items()):
        answer = post(admin, RULES_REVIEWS, {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": namespace}}, timeout=timeout, groups=groups)
        status = answer.get("status")
        rules = status.get("resourceRules") if isinstance(status, Mapping) else None
        if (not isinstance(status, Mapping) or not isinstance(rules, list)
                or not all(isinstance(r, Mapping) for r in rules)):
            raise ApiProblem(f"{admin.url}{RULES_REVIEWS}: the answer has no "
                             "status.resourceRules list.")
        try:
            granted = set(rule_rights(rules))
        except (TypeError, ValueError, AttributeError):
            raise ApiProblem(f"{admin.url}{RULES_REVIEWS}: a resource rule is not a "
                             "PolicyRule.") from None
        # An incomplete answer still holds every rule it lists (rules are additive): rights
        # too many are real, rights missing may come from the authorizer that did not answer.
        incomplete = status.get("incomplete") is True
        if incomplete:
            error = status.get("evaluationError")
            report.notes.append(
                f"rights: the cluster's answer for groups {_names(groups)} is incomplete ("
                + (error[:300] if isinstance(error, str) and error else
                   "an authorizer other than RBAC cannot list rules")
                + "): rights it lacks are not counted as differences")
        for row in group_rows:
            results.append(_compare_rights(report, row, groups, granted, incomplete))
    report.checks["rights"] = {"server": admin.url, "namespace": namespace, "rows": results}


def _compare_rights(report: Report, row: Mapping[str, Any], groups: Sequence[str],
                    granted: set[str], incomplete: bool) -> dict[str, Any]:
    planned_all = [str(right) for right in row.get("sensitiveRights", [])]
    unknown = [right for right in planned_all if right.startswith(UNKNOWN_PREFIX)]
    planned = set(planned_all) - set(unknown)
    src = row.get("src")
    where = f"rights: {src} (groups {_names(groups)})"
    missing = sorted(planned - granted)
    extra = sorted(granted - planned)
    if missing and not incomplete:
        report.differences.append(f"{where}: the cluster does not grant {_names(missing)}, "
                                  "which the plan gives")
    if extra and not unknown:
        report.differences.append(f"{where}: the cluster grants {_names(extra)}, which the "
                                  "plan does not give")
    elif extra:
        report.notes.append(f"{where}: the cluster grants {_names(extra)}; the plan could not "
                            f"tell the rights of {_names(unknown)}")
    return {"src": src, "kubernetesGroups": list(groups), "plannedRights": sorted(planned_all),
            "clusterRights": sorted(granted), "missing": missing,
            "extra": extra if not unknown else [], "incomplete": incomplete}


def check_public_endpoint(report: Report, text: str, timeout: float) -> None:
    import socket
    import ssl

    host, port = public_address(text)
    state = "closed"
    reason = ""
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            state = "accepts TCP"
            try:
                with insecure_context().wrap_socket(connection, server_hostname=host):
                    state = "accepts TLS"
            except (OSError, ssl.SSLError):
                pass
    except socket.gaierror:
        reason = "the name does not resolve"
    except OSError as error:
        reason = error_reason(error)
    report.checks["publicEndpoint"] = {"endpoint": f"{host}:{port}", "state": state,
                                       **({"reason": reason} if reason else {})}
    if state != "closed":
        report.differences.append(f"public endpoint: {host}:{port} still {state} "
                                  "connections; lock it (docs/verify.md)")


def public_address(text: str) -> tuple[str, int]:
    value = text.strip()
    parts = urlsplit(value if "://" in value else f"https://{value}")
    try:
        port = parts.port or 443
    except ValueError:
        port = 0
    if not parts.hostname or not 0 < port < 65536:
        raise InputError(f"--public-endpoint {text!r}: not a host, host:port or https:// URL. "
                         "Fix: pass the cluster's public API endpoint, e.g. "
                         "https://ABC.gr7.us-east-1.eks.amazonaws.com.")
    return parts.hostname, port


def _names(values: Iterable[str]) -> str:
    return ", ".join(values) or "none"


# -- the command -----------------------------------------------------------------------------


def _plan_rows(args: argparse.Namespace, console: Console) -> tuple[
        str, list[dict[str, Any]], dict[str, Any], Mapping[str, Any]]:
    """(stack, access rows, policy, outputs) from `--plan DIR` or an in-process plan."""
    from .report import compare

    if args.plan:
        loaded = compare.load_plan_dir(Path(args.plan))
        return loaded.stack, loaded.access, loaded.policy, {}
    from .cli import plan_files, stack_paths

    short, project, config_path = stack_paths(args.stack, args.project, args.config)
    plan, files = plan_files(project, config_path, short, console)
    loaded = compare.load_plan_files(files, Path(short))
    return short, loaded.access, loaded.policy, plan.outputs


def _proxy_url(args: argparse.Namespace, outputs: Mapping[str, Any]) -> str:
    if args.server:
        return server_url(args.server, "--server")
    known = outputs.get("proxyUrl")
    if isinstance(known, str) and known.startswith("https://"):
        return known
    hostname = outputs.get("proxyHostname")
    if args.tailnet and isinstance(hostname, str) and hostname:
        return server_url(f"https://{hostname}.{args.tailnet.strip('.')}", "--tailnet")
    raise InputError("the API server proxy's URL is not in the plan (it is known only once "
                     "deployed). Fix: pass --server https://<proxy>.<tailnet>.ts.net (the URL "
                     "`tailscale configure kubeconfig` writes) or --tailnet <tailnet>.ts.net.")


def _verify(args: argparse.Namespace, console: Console) -> int:
    if bool(args.stack) == bool(args.plan):
        raise InputError("verify: name the stack (--stack S) or a plan folder (--plan DIR), "
                         "one of the two.")
    if not 0 < args.timeout <= 120:
        raise InputError(f"--timeout {args.timeout}: give between 0 and 120 seconds.")
    if args.public_endpoint:
        public_address(args.public_endpoint)  # bad input before anything is asked
    admin = read_admin_kubeconfig(args.admin_kubeconfig) if args.admin_kubeconfig else None
    if admin is not None:
        console.redact.add(admin.token, "--admin-kubeconfig")
    if args.server:
        server_url(args.server, "--server")
    stack, access, policy, outputs = _plan_rows(args, console)
    proxy = Endpoint(_proxy_url(args, outputs), None)
    rows = kubernetes_rows(access)
    report = Report(stack)
    sources = list(dict.fromkeys(args.sources or ()))
    unknown_sources = [src for src in sources if src not in {row.get("src") for row in rows}]
    if unknown_sources:
        raise InputError(f"--as {', '.join(unknown_sources)}: no access row of the plan has "
                         "this source. Fix: name a Source of access.md.")
    for name, run in (
        ("identity", lambda: check_identity(report, proxy, rows, policy, sources, args.timeout)),
        ("rights", (lambda: check_rights(report, admin, rows, args.namespace, args.timeout))
         if admin is not None else None),
        ("publicEndpoint", (lambda: check_public_endpoint(report, args.public_endpoint,
                                                          args.timeout))
         if args.public_endpoint else None),
    ):
        if run is None:
            report.notes.append(f"{name}: not checked ("
                                + ("--admin-kubeconfig" if name == "rights"
                                   else "--public-endpoint") + " not given)")
            continue
        try:
            run()
        except ApiProblem as problem:
            report.differences.append(f"{name}: could not check: {problem}")
    if args.json:
        console.out(json.dumps(report.as_json(), indent=2, sort_keys=True))
    else:
        console.out(render(report))
    return EXIT_OK if report.ok else EXIT_DIFFERENT


def render(report: Report) -> str:
    lines = [f"differs: {line}" for line in report.differences]
    lines += [f"note: {line}" for line in report.notes]
    identity = report.checks.get("identity")
    if identity:
        lines.append(f"identity: {identity['username']} in groups "
                     f"{_names(identity['clusterGroups'])} (planned "
                     f"{_names(identity['plannedGroups'])})")
    rights = report.checks.get("rights")
    if rights:
        lines += [f"rights: {row['src']}: {_names(row['clusterRights'])}"
                  for row in rights["rows"]]
    endpoint = report.checks.get("publicEndpoint")
    if endpoint:
        lines.append(f"public endpoint: {endpoint['endpoint']} {endpoint['state']}")
    count = len(report.differences)
    lines.append(f"stack {report.stack}: " + (
        "the cluster agrees with the plan." if report.ok else
        f"{count} difference{'s' * (count != 1)} from the plan."))
    return "\n".join(lines)


def add_command(commands: Any, common: argparse.ArgumentParser) -> None:
    verify = commands.add_parser(
        "verify", parents=[common],
        help="check the deployed cluster against the stack's plan (from the tailnet)",
        description="Ask the cluster, through the API server proxy, who it sees (a "
        "SelfSubjectReview); with an admin kubeconfig, what each planned group may do "
        "(SelfSubjectRulesReview as the group); with the public endpoint, whether it still "
        "accepts connections. Exit 0: all agree; 1: a difference (or the cluster could not be "
        "asked); 2: invalid input.")
    verify.add_argument("--stack", help="stack name, e.g. prod (the plan is run in-process)")
    verify.add_argument("--plan", metavar="DIR", help="read this plan folder instead")
    verify.add_argument("--config", metavar="FILE", help="stack config file (with --stack)")
    verify.add_argument("--project", metavar="DIR", help="project folder with Pulumi.yaml")
    verify.add_argument("--server", metavar="URL", help="the API server proxy's URL")
    verify.add_argument("--tailnet", metavar="DOMAIN",
                        help="the tailnet's DNS name (e.g. tail1234.ts.net): the proxy's URL is "
                        "https://<proxyHostname>.<DOMAIN>")
    verify.add_argument("--as", dest="sources", action="append", metavar="SRC",
                        help="the access row(s) that apply to you (e.g. tag:ci); default: "
                        "found from your login and the policy's groups")
    verify.add_argument("--admin-kubeconfig", metavar="FILE",
                        help="kubeconfig with a bearer token allowed to impersonate groups")
    verify.add_argument("--namespace", default="default",
                        help="namespace of the rules reviews (default: default)")
    verify.add_argument("--public-endpoint", metavar="URL",
                        help="the cluster's public API endpoint, which should be closed")
    verify.add_argument("--timeout", type=float, default=10.0,
                        help="seconds per request (default 10)")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(handler=_verify)
