"""The policy's `tests`, its `acls` syntax, and who reaches a tag."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..sections import section
from .match import _decide, _match_selector, principal
from .model import (
    AclsStyle,
    Decision,
    FailedAssertion,
    Finding,
    NetRule,
    OriginOf,
    PolicyModel,
    Principal,
    Reach,
    TestReport,
    _as_model,
    _norm_proto,
    _section_list,
    _split_host_port,
    _strings,
    build_model,
)


@dataclass
class _Collector:
    failures: list[FailedAssertion] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    passed: int = 0

    def add(self, problem: Finding, *, decided: bool) -> None:
        """A problem, or, where the policy is a fragment others complete, a warning."""
        if decided:
            self.problems.append(problem)
        else:
            message = f"{problem.message} here (another writer of the policy may define it)"
            self.warnings.append(Finding("warning", problem.section, problem.index, message))

    def report(self) -> TestReport:
        return TestReport(
            tuple(self.failures), tuple(self.warnings), tuple(self.problems), self.passed
        )


@dataclass(frozen=True)
class _Test:
    index: int
    src: str
    proto: str
    attrs: Mapping[str, Any]
    assertions: tuple[tuple[Literal["accept", "deny"], str], ...]


def _parse_test(entry: Any, index: int) -> _Test | str:
    """A tests entry, or why it is malformed."""
    if not isinstance(entry, Mapping):
        return "a tests entry must be an object"
    src, proto = section(entry, "src"), section(entry, "proto") or "tcp"
    attrs = section(entry, "srcPostureAttrs") or {}
    accept = _strings(section(entry, "accept") or [])
    deny = _strings(section(entry, "deny") or [])
    if not isinstance(src, str) or not isinstance(proto, str) or not isinstance(attrs, Mapping):
        return "needs a string src, an optional string proto and an srcPostureAttrs object"
    if accept is None or deny is None:
        return "accept and deny must be lists of host:port strings"
    # Tailscale fails these tests (headscale testdata policytest_results, malformed-test-*).
    if not src.strip():
        return "src is empty: name one user, group, tag, host or IP"
    if not accept and not deny:
        return "a test needs at least one accept or deny entry"
    assertions: list[tuple[Literal["accept", "deny"], str]] = [("accept", d) for d in accept]
    assertions += [("deny", d) for d in deny]
    return _Test(index, src, _norm_proto(proto), attrs, tuple(assertions))


def _assertion_target(dst: str) -> tuple[str, int] | None:
    split = _split_host_port(dst)
    if split is None or not split[1].isdigit() or int(split[1]) > 65535:
        return None
    return split[0], int(split[1])


def _judge(
    test: _Test, kind: Literal["accept", "deny"], dst: str, decision: Decision, out: _Collector
) -> None:
    if decision.verdict == "undecidable":
        message = f"{test.src} {kind} {dst} ({test.proto}) is undecidable: "
        out.warnings.append(
            Finding("warning", "tests", test.index, message + "; ".join(decision.reasons))
        )
    elif decision.allowed == (kind == "accept"):
        out.passed += 1
    elif kind == "deny":
        labels = ", ".join(f"{r.label} {r.summary}" for r in decision.rules)
        reason = f"allowed by {labels}"
        out.failures.append(
            FailedAssertion(test.index, test.src, kind, dst, test.proto, reason, decision.rules)
        )
    else:
        reason = "; ".join(decision.reasons)
        out.failures.append(
            FailedAssertion(
                test.index, test.src, kind, dst, test.proto, reason, decision.posture_blocked
            )
        )


_KNOWN_AUTOGROUPS = frozenset({"member", "tagged", "self", "internet", "danger-all", "nonroot",
                               "admin", "owner", "it-admin", "network-admin", "billing-admin",
                               "auditor", "shared"})


def undefined_name(name: str, model: PolicyModel) -> str | None:
    """Why `name` (a test's src or destination host) names nothing, or None. Tailscale fails
    a test naming an undefined group, tag, host or autogroup (policytest_results
    src-unknown-* and dst-unknown-*)."""
    # SCIM-synced groups (`group:name@domain`) come from the identity provider, not the file.
    if name.startswith("group:") and "@" not in name and name not in model.groups:
        return f"{name} is not defined in groups"
    if name.startswith("tag:") and model.tags is not None and name not in model.tags:
        return f"{name} is not defined in tagOwners"
    if name.startswith("autogroup:"):
        known = name.removeprefix("autogroup:") in _KNOWN_AUTOGROUPS
        return None if known else f"{name} is not an autogroup Tailscale knows"
    if name.startswith(("tag:", "group:")) or "@" in name or name == "*":
        return None
    if principal(name, model).kind == "unknown":
        return f"{name!r} is not a user, group, tag, IP or host defined in hosts"
    return None


def _destination_refused(host: str, model: PolicyModel) -> str | None:
    """Why Tailscale fails a test on this destination whatever the rules say."""
    if host == "autogroup:internet":
        return "Tailscale fails a test whose destination is autogroup:internet"
    where = principal(host, model)
    if "/" in model.hosts.get(host, host) and (
        where.network is None or where.network.num_addresses > 1 or host not in model.hosts
    ):
        return ("Tailscale fails a test whose destination is an address range (a CIDR, even "
                "/32): name a host, an IP or a tag")
    return undefined_name(host, model)


def _run_test(model: PolicyModel, test: _Test, out: _Collector, complete: bool) -> None:
    who = principal(test.src, model)
    undefined = undefined_name(test.src, model)
    if undefined is not None:
        out.add(Finding("problem", "tests", test.index, f"src: {undefined}"), decided=complete)
        return
    for kind, dst in test.assertions:
        target = _assertion_target(dst)
        refused = None if target is None else _destination_refused(target[0], model)
        if target is None or refused is not None:
            message = refused or "is not host:port (one port)"
            finding = Finding("problem", "tests", test.index, f"{kind} {dst!r} {message}")
            undefined_dst = target is not None and undefined_name(target[0], model) is not None
            out.add(finding, decided=complete or not undefined_dst)
            continue
        where = principal(target[0], model)
        decision = _decide(model, who, where, target[1], test.proto, test.attrs)
        _judge(test, kind, dst, decision, out)


def run_tests(policy: Mapping[str, Any], origin_of: OriginOf | None = None, *,
              model: PolicyModel | None = None, complete: bool = True) -> TestReport:
    """Run every entry of the policy's `tests` as Tailscale does on each write.

    A test counts `acls` and grants with `ip`. An `accept` passes when some rule allows the
    traffic, a `deny` when none does. Undecidable assertions become warnings, never passes;
    malformed tests and rules become problems. `model`: the policy's, if already built.
    `complete=False`: the policy is one writer's fragment, whose names another writer may
    define, so a test naming an undefined one is undecidable here, not failed."""
    model = model or build_model(policy, origin_of)
    out = _Collector(problems=[f for f in model.findings if f.severity == "problem"],
                     warnings=[f for f in model.findings if f.severity == "warning"])
    out.problems += check_syntax_mix(policy)
    entries, problems = _section_list(policy, "tests")
    out.problems += problems
    for index, entry in enumerate(entries):
        test = _parse_test(entry, index)
        if isinstance(test, str):
            out.problems.append(Finding("problem", "tests", index, test))
        else:
            _run_test(model, test, out, complete)
    return out.report()


# -- acls syntax -----------------------------------------------------------------------------


def _acl_styles(policy: Mapping[str, Any]) -> tuple[list[int], list[int]]:
    """Indices of legacy (users/ports) and of new-style (src/dst) acls entries."""
    entries, _ = _section_list(policy, "acls")
    legacy: list[int] = []
    new: list[int] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            continue
        if section(entry, "users") is not None or section(entry, "ports") is not None:
            legacy.append(index)
        if section(entry, "src") is not None or section(entry, "dst") is not None:
            new.append(index)
    return legacy, new


def acls_style(policy: Mapping[str, Any]) -> AclsStyle:
    """The syntax of the policy's `acls`, so that added rules can be written in the same one:
    "empty" when there are none, "mixed" when Tailscale would reject the list."""
    legacy, new = _acl_styles(policy)
    if legacy and new:
        return "mixed"
    if legacy:
        return "legacy"
    return "new" if new else "empty"


def check_syntax_mix(policy: Mapping[str, Any]) -> list[Finding]:
    """A problem when `acls` mixes legacy users/ports with src/dst entries: the API answers
    400 "ACLs contain a mix of old-style users/ports and new-style src/dst"."""
    legacy, new = _acl_styles(policy)
    if not (legacy and new):
        return []
    message = (
        f"acls mix old-style users/ports (entries {_indices(legacy)}) with new-style src/dst "
        f"(entries {_indices(new)}); Tailscale rejects such a policy"
    )
    return [Finding("problem", "acls", None, message)]


def _indices(indices: Sequence[int]) -> str:
    return ", ".join(str(i) for i in indices)


# -- who reaches a tag -----------------------------------------------------------------------


def who_reaches(
    policy: Mapping[str, Any] | PolicyModel,
    dst_tag: str,
    port: int,
    proto: str = "tcp",
    *,
    origin_of: OriginOf | None = None,
) -> list[Reach]:
    """Every (source selector, rule) that opens `dst_tag` on `port`/`proto`, postures aside.

    Used to warn that a base policy already gives some source access to an endpoint beyond
    what a stack adds: filter the answer by `rule.origin`. Coverage by IP ranges or `via`
    grants is reported with `certain=False`."""
    model = _as_model(policy, origin_of)
    tag = dst_tag if dst_tag.startswith("tag:") else f"tag:{dst_tag}"
    return _who_reaches(model, Principal(tag, "tag"), port, _norm_proto(proto))


def _who_reaches(model: PolicyModel, where: Principal, port: int, proto: str, *,
                 indexed: bool = True) -> list[Reach]:
    """`indexed=False`: try every rule (the plain scan the index must agree with)."""
    index = model.index.rules
    found = index.targets.matches(index.query(where)) if indexed else None
    reaches: list[Reach] = []
    for position in range(len(model.rules)) if found is None else sorted(found):
        rule = model.rules[position]
        covered = _covering(rule, where, port, proto, model)
        if covered is not None:
            via, certain = covered
            reaches += [Reach(sel, rule, via, certain and not rule.via) for sel in rule.src]
    return reaches


def _covering(
    rule: NetRule, where: Principal, port: int, proto: str, model: PolicyModel
) -> tuple[str, bool] | None:
    """The destination selector of `rule` that covers `where`, and whether surely."""
    maybe: str | None = None
    for target in rule.targets:
        if not target.covers(port, proto):
            continue
        match = _match_selector(target.selector, where, model, [])
        if match is True:
            return target.selector, True
        if match is None and maybe is None:
            maybe = target.selector
    return None if maybe is None else (maybe, False)
