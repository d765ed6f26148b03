"""`check` and `who`: the offline evaluator on any tailnet policy file, no stack needed.

    tailscale-cluster-access check POLICY.hujson [--json]
    tailscale-cluster-access who POLICY.hujson --dst tag:k8s-operator:443 [--proto tcp] [--json]

`check` does what Tailscale does on every write of the policy, offline: it refuses the
entries the API refuses (core/policy/evaluate/validate.py) and runs the policy's `tests`.
Exit 0 when Tailscale would accept the policy as far as can be told offline, 2 when not (or
when the file cannot be read); every problem is listed, and tests that cannot be decided
offline are warnings. `who` lists every source a rule lets reach a tag's port, each with the
app capabilities its grants give it there, and the grants that give capabilities on the tag
to a source no rule lets reach it.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.safe_read import POLICY_MAX_BYTES, FileProblem, read_text
from .project import InputError

if TYPE_CHECKING:
    from ..core.policy.evaluate import Capabilities, FailedAssertion, Finding, PolicyModel

# The evaluator is imported by the commands that use it: every other command builds this
# parser, and should not pay for it at start.

EXIT_OK = 0
EXIT_INVALID = 2

_FIX = "fix the file; the policy editor in the admin console shows the same position."
_DESTINATION = re.compile(r"^(?P<tag>tag:[^:\s]+):(?P<port>\d{1,5})$")


class PolicyFileError(Exception):
    """The policy file cannot be checked; `problems` says why, each line naming the file."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def read_policy(path: str) -> dict[str, Any]:
    """The parsed policy file: HuJSON, a tailnet policy (known sections, no credentials)."""
    try:
        text = read_text(path, what="policy file", max_bytes=POLICY_MAX_BYTES)
    except FileProblem as problem:
        raise PolicyFileError([str(problem)]) from None
    from ..core.base_policy import parse_base

    document, problems = parse_base(text, path, fix=_FIX)
    if document is None:
        raise PolicyFileError([problem.render() for problem in problems])
    return dict(document.data)


def _model(policy: Mapping[str, Any]) -> PolicyModel:
    from ..core.policy.evaluate import build_model

    # The whole policy, as the API sees it: a tag tagOwners does not define is refused.
    return build_model(policy, strict_tags=True)


# -- check -----------------------------------------------------------------------------------


def _finding(finding: Finding) -> dict[str, Any]:
    return {"where": finding.where, "message": finding.message}


def _failure(failure: FailedAssertion) -> dict[str, Any]:
    return {"where": f"tests[{failure.test_index}]", "src": failure.src, "kind": failure.kind,
            "dst": failure.dst, "proto": failure.proto, "reason": failure.reason,
            "rules": [f"{rule.section}[{rule.index}]" for rule in failure.rules]}


def check_policy(path: str) -> tuple[bool, dict[str, Any]]:
    """(whether Tailscale would accept the policy, as far as known offline; the report)."""
    from ..core.policy.evaluate import run_tests
    from ..core.policy.sections import section

    try:
        policy = read_policy(path)
    except PolicyFileError as error:
        problems = [{"where": path, "message": line} for line in error.problems]
        return False, {"policy": path, "ok": False, "tests": 0, "passed": 0, "failures": [],
                       "problems": problems, "warnings": []}
    report = run_tests(policy, model=_model(policy))
    tests = section(policy, "tests")
    return report.ok, {
        "policy": path, "ok": report.ok, "tests": len(tests) if isinstance(tests, list) else 0,
        "passed": report.passed,
        "failures": [_failure(f) for f in report.failures],
        "problems": [_finding(p) for p in report.problems],
        "warnings": [_finding(w) for w in report.warnings],
    }


def render_check(report: Mapping[str, Any]) -> str:
    failures, problems = report["failures"], report["problems"]
    lines = [f"problem: {p['where']}: {p['message']}" for p in problems]
    lines += [f"fails: {f['where']}: {f['src']} {f['kind']} {f['dst']} ({f['proto']}): "
              f"{f['reason']}" for f in failures]
    lines += [f"warning: {w['where']}: {w['message']}" for w in report["warnings"]]
    verdict = ("Tailscale would accept it, as far as can be told offline" if report["ok"]
               else "Tailscale would refuse it")
    counts = (f"{report['tests']} test{'s' * (report['tests'] != 1)}, "
              f"{report['passed']} assertion{'s' * (report['passed'] != 1)} passed, "
              f"{len(failures)} failed; {len(problems)} problem{'s' * (len(problems) != 1)}, "
              f"{len(report['warnings'])} warning{'s' * (len(report['warnings']) != 1)}")
    lines.append(f"{report['policy']}: {counts}. {verdict}.")
    return "\n".join(lines)


# -- who -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    tag: str
    port: int


def parse_destination(text: str) -> Destination:
    """`tag:NAME:PORT`; ValueError saying what is wrong."""
    match = _DESTINATION.match(text)
    if match is None or int(match.group("port")) > 65535:
        raise ValueError(f"--dst {text!r}: give a tag and one port, e.g. tag:k8s-operator:443.")
    return Destination(match.group("tag"), int(match.group("port")))


def _capability_row(found: Capabilities) -> dict[str, Any]:
    return {"capabilities": {name: list(values) for name, values in found.values.items()},
            "capabilities_decided": found.decided,
            "capability_reasons": list(found.reasons)}


def who_reaches_tag(policy: Mapping[str, Any], destination: Destination,
                    proto: str) -> list[dict[str, Any]]:
    """One row per source selector: the rules by which it reaches the destination, whether
    surely, the postures they ask for, and the capabilities its grants give it there."""
    from ..core.policy.evaluate import Reach, capabilities, who_reaches

    model = _model(policy)
    by_source: dict[str, list[Reach]] = {}
    for reach in who_reaches(model, destination.tag, destination.port, proto):
        by_source.setdefault(reach.selector, []).append(reach)
    rows = []
    for source, reaches in by_source.items():
        postures = sorted({p for reach in reaches for p in reach.rule.src_posture})
        row = {"source": source, "network": True,
               "rules": [f"{r.rule.section}[{r.rule.index}]" for r in reaches],
               "certain": any(r.certain and not r.rule.src_posture for r in reaches),
               "postures": postures}
        rows.append(row | _capability_row(capabilities(model, source, destination.tag)))
    rows += _capabilities_without_network(model, destination.tag, set(by_source))
    return rows


def _capabilities_without_network(model: PolicyModel, tag: str,
                                  reaching: set[str]) -> list[dict[str, Any]]:
    """Grant sources that get capabilities on `tag` but that no rule lets reach the port."""
    from ..core.policy.evaluate import capabilities, principal

    index = model.index.grants
    found = index.targets.matches(index.query(principal(tag, model)))
    positions = range(len(model.app_grants)) if found is None else sorted(found)
    sources = dict.fromkeys(s for p in positions for s in model.app_grants[p].src
                            if s not in reaching)
    rows = []
    for source in sources:
        answer = capabilities(model, source, tag)
        if answer.values or not answer.decided:
            rows.append({"source": source, "network": False, "rules": [], "certain": True,
                         "postures": []} | _capability_row(answer))
    return rows


def render_who(path: str, destination: Destination, proto: str,
               rows: list[dict[str, Any]]) -> str:
    target = f"{destination.tag}:{destination.port} ({proto})"
    reaching = [row for row in rows if row["network"]]
    lines = [f"{path}: {len(reaching)} source{'s' * (len(reaching) != 1)} reach {target}"
             + (":" if reaching else ".")]
    for row in reaching:
        lines += _row_lines(row)
    others = [row for row in rows if not row["network"]]
    if others:
        lines.append(f"Capabilities on {destination.tag} but no network path to {target}:")
        for row in others:
            lines += _row_lines(row)
    return "\n".join(lines)


def _row_lines(row: Mapping[str, Any]) -> list[str]:
    head = f"  {row['source']}"
    if row["rules"]:
        head += f" by {', '.join(row['rules'])}"
    if row["postures"]:
        head += f" when the device meets {' or '.join(row['postures'])}"
    if row["network"] and not row["certain"]:
        head += " (may reach: depends on addresses, routes or postures)"
    lines = [head]
    for name, values in row["capabilities"].items():
        lines.append(f"    {name}: {json.dumps(values, sort_keys=True)}")
    if not row["capabilities"]:
        lines.append("    no app capabilities")
    for reason in row["capability_reasons"]:
        lines.append(f"    undecided: {reason}")
    return lines


# -- commands --------------------------------------------------------------------------------


def _check_command(args: argparse.Namespace, console: Any) -> int:
    ok, report = check_policy(args.policy)
    if args.json:
        console.out(json.dumps(report, indent=2))
    else:
        console.out(render_check(report))
    return EXIT_OK if ok else EXIT_INVALID


def _who_command(args: argparse.Namespace, console: Any) -> int:
    problems = []
    try:
        destination = parse_destination(args.dst)
    except ValueError as error:
        problems.append(str(error))
    try:
        policy = read_policy(args.policy)
    except PolicyFileError as error:
        problems += error.problems
    if problems:
        raise InputError("\n".join(problems))
    refused = sum(1 for f in _model(policy).findings if f.severity == "problem")
    if refused:
        console.err(f"warning: {args.policy}: Tailscale would refuse this policy ({refused} "
                    f"problem{'s' * (refused != 1)}; `check` lists them); answering for it "
                    "as written.")
    rows = who_reaches_tag(policy, destination, args.proto)
    if args.json:
        console.out(json.dumps({"policy": args.policy, "dst": args.dst, "proto": args.proto,
                                "sources": rows}, indent=2))
    else:
        console.out(render_who(args.policy, destination, args.proto, rows))
    return EXIT_OK


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    check = commands.add_parser(
        "check", parents=[common], help="check a tailnet policy file offline and run its tests",
        description="Refuse what Tailscale's API refuses and run the policy's tests, offline. "
        "Exit 0: accepted as far as can be told offline (undecidable tests are warnings); "
        "2: refused, every problem listed.")
    check.add_argument("policy", metavar="POLICY", help="tailnet policy file (HuJSON)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(handler=_check_command)

    who = commands.add_parser(
        "who", parents=[common], help="every source that reaches a tag's port, with its "
        "capabilities",
        description="Every source selector a rule of the policy lets reach the destination, "
        "with the app capabilities its grants give it there.")
    who.add_argument("policy", metavar="POLICY", help="tailnet policy file (HuJSON)")
    who.add_argument("--dst", required=True, metavar="TAG:PORT",
                     help="the destination, e.g. tag:k8s-operator:443")
    who.add_argument("--proto", default="tcp", help="IP protocol (default tcp)")
    who.add_argument("--json", action="store_true", help="print the answer as JSON")
    who.set_defaults(handler=_who_command)
