"""Plan files as text, and writing them so that a folder is either complete or absent."""

import difflib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ...core.policy import access
from . import markdown, model
from .identities import identity_access, rights_of
from .lockdown import (
    KUBECONFIG_OUTPUT,
    LOCKDOWN_OUTPUT,
    kubeconfig_cell,
    lockdown_cell,
    lockdown_section,
)
from .mermaid import mermaid_graph
from .model import PLAN_MARKER, PLAN_MARKER_TEXT, SECRET_TEXT, UNKNOWN_TEXT, PlanData, PlanError

# libyaml's safe dumper when PyYAML was built with it: the same text, several times faster.
_YAML_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_MARKERS = frozenset({UNKNOWN_TEXT, SECRET_TEXT})
_TABLE_HEADER = ("Source", "Endpoint", "Ports", "Kubernetes groups", "ClusterRoles",
                 "Sensitive rights", "Recorded", "Enforced", "Fails closed", "Posture", "Origin")


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(item) for item in value) or "—"
    if value in (UNKNOWN_TEXT, SECRET_TEXT):
        return str(value)  # the plan's own markers: brackets without a link target
    return markdown.cell(value) if value != "" else "—"


def _output_cell(value: Any, key: str = "") -> str:
    if key == LOCKDOWN_OUTPUT and isinstance(value, Mapping):
        return lockdown_cell(value)
    if key == KUBECONFIG_OUTPUT and isinstance(value, str) and "\n" in value:
        return kubeconfig_cell(value)
    if isinstance(value, str) and "\n" in value:
        return f"({value.count(chr(10))} lines, shown in the files above)"
    if isinstance(value, Mapping | list):
        return markdown.code(json.dumps(value, sort_keys=True), in_table=True)
    return _cell(value)


# The row kinds (`core.policy.access`), in the order the report shows them, each with the
# title and the sentence that explain it; rows of plans made before kinds are grants.
_KIND_SECTIONS: tuple[tuple[str, str, str], ...] = (
    (access.GRANT, "", ""),
    (access.BREAK_GLASS, "Break-glass",
     "The way in while the recorder is down: no grant that matches these sources enforces "
     "recording (checked on the merged policy, as the API server proxy unions every "
     "matching grant), so their requests are not recorded."),
    (access.NO_NETWORK_PATH, "Capability but no network path",
     "These sources hold the kubernetes capability on the endpoint, but no network rule "
     "opens its port to them: no rights until one does."),
    (access.TAGS_AS_GROUPS, "Tagged devices impersonated with their tags as groups",
     "No kubernetes grant applies to them, so the API server proxy impersonates the device "
     "(its node name) with its tags as groups, plus `system:authenticated` (operator "
     "v1.102.3, `k8s-operator/api-proxy`)."),
    (access.AS_ITSELF, "Impersonated as themselves (network path, no kubernetes grant)",
     "The proxy impersonates every caller that reaches its port: a user as its login name, "
     "a tagged device as its node name (with its tags as groups), and the API server adds "
     "`system:authenticated`: RoleBindings to those Users or to `system:authenticated` "
     "apply to them."),
    (access.DEPLOYER, "The deployer (`pulumi up` through the tailnet)",
     "The machine tagged `deployer.tag` reaches the API server through the proxy with the "
     "deployer's groups and their ClusterRole; never recorded, so a recorder outage does not "
     "stop a deploy. Its kubeconfig is the `deployKubeconfig` output."),
    (access.OPERATOR, "The operator's own rights",
     "The chart's ClusterRole `tailscale-auth-proxy` (tailscale-operator chart v1.102.3, "
     "`templates/apiserverproxy-rbac.yaml`) lets these ServiceAccounts impersonate any user "
     "or group: whoever controls the operator or proxy pods holds cluster-admin."),
)
_TABLE_FIELDS = (*model.ACCESS_FIELDS[:8], "failsClosed", "posture", "origin")


def _source_cell(row: Mapping[str, Any]) -> str:
    src = _cell(row.get("src", ""))
    return f"{src} (broad)" if row.get("broad") is True else src


def _row_cells(row: Mapping[str, Any], fields: Sequence[str]) -> str:
    cells = [_source_cell(row) if key == "src" else _cell(row.get(key, "")) for key in fields]
    return "| " + " | ".join(cells) + " |"


def access_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The access matrix as markdown: the grants' table, then one per other kind of row."""
    if not rows:
        return "_No tailnet source gets access to this cluster._\n"
    with_cluster = any("cluster" in row for row in rows)
    header = (("Cluster",) if with_cluster else ()) + _TABLE_HEADER
    fields = (("cluster",) if with_cluster else ()) + _TABLE_FIELDS
    known = {kind for kind, _, _ in _KIND_SECTIONS}
    blocks: list[str] = []
    for kind, title, explanation in _KIND_SECTIONS:
        chosen = [row for row in rows
                  if (row.get("kind") if row.get("kind") in known else access.GRANT) == kind]
        if not chosen and kind != access.GRANT:
            continue
        lines = [f"**{title}**", "", explanation, ""] if title else []
        if chosen:
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += [_row_cells(row, fields) for row in chosen]
        else:
            lines.append("_No tailnet source holds a kubernetes grant on this cluster._")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def identity_table(rows: Sequence[Mapping[str, Any]], policy: Mapping[str, Any]) -> str:
    """Who is behind each source: every member of a granted group, with what it gets."""
    identities = identity_access(rows, policy)
    if not identities:
        return "_Nobody._\n"
    lines = ["| Identity | Via | Sensitive rights |", "|---|---|---|"]
    lines += [f"| {_cell(who)} | {_cell(sorted(via))} | {_cell(rights_of(via))} |"
              for who, via in identities.items()]
    return "\n".join(lines) + "\n"


def _yaml(documents: Sequence[Any], comment: str) -> str:
    head = "".join(f"# {line}\n" for line in comment.splitlines())
    if not documents:
        return head + "--- []\n"
    text: str = yaml.dump_all(documents, Dumper=_YAML_DUMPER, sort_keys=False,
                              explicit_start=True, default_flow_style=False,
                              allow_unicode=True, width=100)
    return head + text


def policy_diff(plan: PlanData) -> str:
    """The base file against the written policy (in fragment mode, an empty base against the
    fragment), as `diff -u` writes it: what a reviewer reads to see what the stack adds."""
    base = plan.base_policy if plan.policy_managed else ""
    written = plan.policy if plan.policy.endswith("\n") else plan.policy + "\n"
    lines = difflib.unified_diff(base.splitlines(keepends=True),
                                 written.splitlines(keepends=True),
                                 fromfile=f"a/{plan.base_name}" if base else "/dev/null",
                                 tofile=f"b/{model.POLICY_FILE}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _count_leaves(value: Any, counts: Counter[Any], wanted: frozenset[str]) -> None:
    """Add to `counts` the leaves of `value` that are in `wanted`."""
    if isinstance(value, Mapping):
        for item in value.values():
            _count_leaves(item, counts, wanted)
    elif isinstance(value, list):
        for item in value:
            _count_leaves(item, counts, wanted)
    elif isinstance(value, str) and value in wanted:
        counts[value] += 1


def _credentials_line(plan: PlanData) -> list[str]:
    kind = plan.outputs.get("operatorCredentials")
    return [f"Operator credentials: {markdown.text(kind)}.", ""] if isinstance(kind, str) else []


def _break_glass_line(plan: PlanData) -> list[str]:
    """Who gets in while the recorder is down, said once more where reviewers look first."""
    sources = [str(row.get("src")) for row in plan.access
               if row.get("kind") == access.BREAK_GLASS]
    if not sources:
        return []
    closed = sum(1 for row in plan.access if row.get("failsClosed") is True)
    return [f"Break-glass: {markdown.text(', '.join(sources))} can reach the cluster while the "
            f"recorder is down ({closed} row(s) fail closed then); their sessions are not "
            "recorded.", ""]


def summary_markdown(plan: PlanData, policy: Mapping[str, Any] | None = None, *,
                     access_markdown: str | None = None) -> str:
    """`summary.md`; `access_markdown`: `access_table(plan.access)` when already made."""
    policy_note = ("writes the **whole tailnet policy file** (`policy.hujson`)" if
                   plan.policy_managed else
                   "does **not** write the tailnet policy (`policy.manage: false`); "
                   "`policy.hujson` is the fragment to hand to whoever owns the policy file")
    out = [f"## Plan for stack {markdown.code(plan.stack)}", "",
           f"Offline plan of {markdown.code(plan.project)}: the real stack program under "
           f"Pulumi's mocks, without credentials. This stack {policy_note}.", "",
           "### Who gets what", "",
           (access_markdown or access_table(plan.access)).rstrip("\n"), "",
           *_credentials_line(plan), *_break_glass_line(plan)]
    if policy is not None:
        out += ["### Who is behind each source", "",
                "Members of the groups in `policy.hujson` (the stack's and the base's).", "",
                identity_table(plan.access, policy).rstrip("\n"), ""]
    out += ["### Warnings", ""]
    out += [f"{model.WARNING_BULLET}{markdown.text(line)}" for line in plan.warnings] or [
        "None."]

    out += lockdown_section(plan.outputs.get(LOCKDOWN_OUTPUT))

    counts = Counter(resource["type"] for resource in plan.resources)
    out += ["", f"### Resources ({len(plan.resources)})", "", "| Type | Count |", "|---|---|"]
    out += [f"| {markdown.code(type_token, in_table=True)} | {counts[type_token]} |"
            for type_token in sorted(counts)]

    if plan.outputs:
        out += ["", "### Stack outputs", "", "| Output | Value |", "|---|---|"]
        out += [f"| {markdown.code(key, in_table=True)} | {_output_cell(value, key)} |"
                for key, value in plan.outputs.items()]

    unknown_outputs = [key for key, value in plan.outputs.items() if value == UNKNOWN_TEXT]
    markers: Counter[Any] = Counter()
    for resource in plan.resources:
        _count_leaves(resource["inputs"], markers, _MARKERS)
    unknown_inputs, secret_inputs = markers[UNKNOWN_TEXT], markers[SECRET_TEXT]
    out += ["", "### What this plan cannot know", "",
            f"- Values that providers compute during `pulumi up` show as `{UNKNOWN_TEXT}`: "
            f"{unknown_inputs} resource input(s)"
            + (f" and the outputs {', '.join(f'`{k}`' for k in unknown_outputs)}"
               if unknown_outputs else "") + ".",
            (f"- Secrets are never read or shown: {secret_inputs} input(s) are masked."
             if secret_inputs else "- Secrets: this stack holds none."),
            "- Whether Tailscale accepts the policy: this plan runs the policy's `tests` "
            "offline; `pulumi preview` with credentials asks Tailscale itself (its validate "
            "endpoint), and Tailscale runs them again on every write.",
            "- What is deployed now: this plan does not read the live tailnet policy or the "
            "cluster; `pulumi preview` with credentials does."]
    return "\n".join(out) + "\n"


def _parsed_policy(text: str) -> Mapping[str, Any] | None:
    from ...core.policy import hujson

    try:
        data = hujson.parse_data(text, model.POLICY_FILE)
    except hujson.HujsonError:
        return None
    return data if isinstance(data, Mapping) else None


def render_files(plan: PlanData, policy_data: Mapping[str, Any] | None = None
                 ) -> dict[str, str]:
    """File name -> text of every plan file. Same plan, same bytes.

    `policy_data`: what `plan.policy` parses to, when the caller already has it."""
    resources = [{key: resource[key] for key in
                  ("urn", "type", "name", "parent", "dependencies", "inputs")}
                 for resource in plan.resources]
    access_markdown = access_table(plan.access)  # in two files
    return {
        model.POLICY_FILE: plan.policy if plan.policy.endswith("\n") else plan.policy + "\n",
        model.POLICY_DIFF_FILE: policy_diff(plan),
        model.MANIFESTS_FILE: _yaml(
            plan.manifests,
            f"Kubernetes objects stack {plan.stack} creates directly (Helm release not "
            f"included).\nSecret data is masked; {UNKNOWN_TEXT} is known only "
            "after `pulumi up`."),
        model.HELM_FILE: _yaml(
            plan.helm_releases,
            f"Helm releases of stack {plan.stack}: chart, version, repository and values.\n"
            "The chart takes apiServerProxyConfig.mode and .allowImpersonation as strings "
            '("true", "false", "noauth"),\nand proxyConfig.defaultTags as one comma-separated '
            "string."),
        model.RESOURCES_FILE: _json(resources),
        model.ACCESS_JSON_FILE: _json(plan.access),
        model.ACCESS_MD_FILE: f"# Access matrix of stack {markdown.code(plan.stack)}\n\n"
                              + access_markdown
                              + "\nOne row per tailnet source, from the merged policy (the "
                                "base's grants and rules as well as the stack's): each "
                                "source's kubernetes grants unioned, as the API server proxy "
                                "unites them. ClusterRoles resolve the Kubernetes groups "
                                "through the stack's bindings and the built-in ones "
                                "(`system:masters` is `cluster-admin`); sensitive rights are "
                                "what those ClusterRoles allow (`unknown:<role>`: a role the "
                                "plan has no rules for). Origin: who wrote the rules "
                                "(`stack`, `base grants[0]`, ...); broad sources "
                                "(`autogroup:member`, `*`, ...) are marked.\n"
                              + "".join(f"\n{line}\n" for line in _credentials_line(plan)
                                        if line),
        model.GRAPH_FILE: mermaid_graph(resources),
        model.SUMMARY_FILE: summary_markdown(plan, _parsed_policy(plan.policy)
                                             if policy_data is None else policy_data,
                                             access_markdown=access_markdown),
    }


def _write_new(path: Path, text: str) -> None:
    """Create `path` (never an existing file or a symlink planted there) holding `text`."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(path, flags, 0o666), "w", encoding="utf-8", newline="\n") as file:
        file.write(text)


def write_plan(files: Mapping[str, str], out: Path) -> None:
    """Replace the folder `out` with exactly `files` and the plan marker; on any error `out`
    stays as it was."""
    out = Path(os.path.abspath(out))
    if out.exists() and not out.is_dir():
        raise PlanError(f"{out} exists and is not a folder.")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    retired: Path | None = None
    try:
        for name, text in {**files, PLAN_MARKER: PLAN_MARKER_TEXT}.items():
            _write_new(staging / name, text)
        staging.chmod(0o755)
        if out.exists():
            # Moved into a folder of its own: no name in out.parent is free for a moment.
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(retired / out.name)
        try:
            staging.rename(out)
        except BaseException:
            if retired is not None:
                (retired / out.name).rename(out)
                retired.rmdir()
                retired = None
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
