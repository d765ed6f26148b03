"""How often the evaluator agrees with Tailscale, measured on captures of Tailscale SaaS.

The captures are published in github.com/juanfont/headscale under
`hscontrol/policy/v2/testdata/{acl,grant,policytest}_results/`: each holds a policy, a
topology, and Tailscale's packet filter and capability grants per node, or the API's error.

    python bench/agreement.py HEADSCALE_GIT_DIR [--commit REV] [--json]

Network questions: for every ordered pair of nodes with one identity (one tag, or a user's
untagged device), TCP and UDP on the ports the policy names and on 22/443, ICMP and ICMPv6:
does the destination node's filter let the source's address in? Capability questions
(grant captures): the capabilities the destination grants the source. Tests: whether
`run_tests` fails where Tailscale answered "test(s) failed" and passes where it accepted the
policy. Refusals: how many policies the API refused as invalid the offline checks refuse.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from tailscale_cluster_access.core.policy import evaluate
from tailscale_cluster_access.core.policy.sections import section

TESTDATA = "hscontrol/policy/v2/testdata"
FOLDERS = ("policytest_results", "acl_results", "grant_results")
PROTOS = {"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58}
TESTS_FAILED = "test(s) failed"


def _git(git_dir: str, *args: str) -> str:
    return subprocess.run(["git", "-C", git_dir, *args], check=True, capture_output=True,
                          text=True).stdout


def _hujson(text: str) -> Any:
    # The capture files are JSON with line comments and trailing commas.
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    return json.loads(re.sub(r",(\s*[\]}])", r"\1", body))


def captures(git_dir: str, commit: str) -> Iterator[dict[str, Any]]:
    for folder in FOLDERS:
        for path in _git(git_dir, "ls-tree", "--name-only", commit, f"{TESTDATA}/{folder}/")\
                .split():
            if path.endswith((".hujson", ".json")):
                capture = _hujson(_git(git_dir, "show", f"{commit}:{path}"))
                capture["folder"] = folder
                policy = capture["input"]["full_policy"]
                capture["policy"] = json.loads(policy) if isinstance(policy, str) else policy
                yield capture


def _identities(capture: Mapping[str, Any]) -> dict[str, tuple[str, list[Any]]]:
    """node name -> (identity, its addresses as Tailscale assigned them)."""
    emails = {user["name"]: user["email"] for user in capture["topology"]["users"]}
    found = {}
    for name, node in capture["topology"]["nodes"].items():
        seen = capture.get("captures", {}).get(name)
        if not seen or len(node.get("tags") or []) > 1:
            continue
        identity = node["tags"][0] if node.get("tags") else emails.get(node.get("user"))
        addresses = (seen.get("netmap") or {}).get("SelfNode", {}).get("Addresses") or []
        if identity and addresses:
            found[name] = (identity, [ipaddress.ip_interface(a).ip for a in addresses])
    return found


def _contains(networks: list[str], address: Any) -> bool:
    for text in networks:
        if text == "*" or address in ipaddress.ip_network(text, strict=False):
            return True
    return False


def _policy_ports(policy: Mapping[str, Any]) -> set[int]:
    ports = {22, 443}
    for entry in section(policy, "acls") or []:
        for dst in entry.get("dst", []) if isinstance(entry, dict) else []:
            ports.update(int(n) for n in re.findall(r"\d+", str(dst).rpartition(":")[2]))
    for entry in section(policy, "grants") or []:
        for ip in entry.get("ip", []) if isinstance(entry, dict) else []:
            ports.update(int(n) for n in re.findall(r"\d+", str(ip).rpartition(":")[2]))
    return {p for p in ports if 0 < p <= 65535}


def _allows(matches: list[Any], src: Any, dst: Any, proto: str, port: int) -> bool:
    for match in matches or []:
        if PROTOS[proto] not in (match.get("IPProto") or [6, 17, 1, 58]):
            continue
        if not _contains(match.get("Srcs") or [], src):
            continue
        for target in match.get("Dsts") or []:
            ports = target.get("Ports") or {}
            in_range = proto in ("icmp", "ipv6-icmp") or ports["First"] <= port <= ports["Last"]
            if in_range and _contains([target["Net"]], dst):
                return True
    return False


def _granted(matches: list[Any], src: Any, dst: Any) -> dict[str, list[str]]:
    caps: dict[str, list[str]] = {}
    for match in matches or []:
        if not _contains(match.get("Srcs") or [], src):
            continue
        for cap in match.get("Caps") or []:
            if _contains([cap["Dst"]], dst):
                values = caps.setdefault(cap["Cap"], [])
                values += [json.dumps(v, sort_keys=True) for v in cap.get("Values") or []]
    return {name: sorted(values) for name, values in caps.items()}


def _family(addresses: list[Any], version: int) -> Any:
    return next((a for a in addresses if a.version == version), None)


def measure(all_captures: list[dict[str, Any]]) -> dict[str, Any]:
    net: Counter[str] = Counter()
    caps: Counter[str] = Counter()
    tests: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    disagreements: list[str] = []
    capabilities = getattr(evaluate, "capabilities", None)
    for capture in all_captures:
        policy, error = capture["policy"], capture.get("error")
        report = evaluate.run_tests(policy, model=evaluate.build_model(policy, strict_tags=True))
        message = (capture["input"].get("api_response_body") or {}).get("message", "")
        if error and message != TESTS_FAILED:
            refused["invalid"] += 1
            refused["refused"] += bool(report.problems)
            continue
        if not error:
            refused["valid"] += 1
            refused["valid but refused"] += bool(report.problems)
        if capture["folder"] == "policytest_results":
            outcome = ("fail" if not report.ok else "undecidable" if report.warnings else "pass")
            tests[f"tailscale {'fails' if error else 'passes'}, here {outcome}"] += 1
        if error:
            continue
        model = evaluate.build_model(policy, strict_tags=True)
        nodes = _identities(capture)
        ports = sorted(_policy_ports(policy))
        for src_name, (src_id, src_addrs) in nodes.items():
            for dst_name, (dst_id, dst_addrs) in nodes.items():
                if src_name == dst_name:
                    continue
                matches = capture["captures"][dst_name].get("packet_filter_matches")
                questions = [(p, port) for p in ("tcp", "udp") for port in ports]
                questions += [("icmp", 0), ("ipv6-icmp", 0)]
                for proto, port in questions:
                    version = 6 if proto == "ipv6-icmp" else 4
                    src, dst = _family(src_addrs, version), _family(dst_addrs, version)
                    truth = _allows(matches, src, dst, proto, port)
                    answer = evaluate.reachable(model, src_id, dst_id, port, proto).verdict
                    net["questions"] += 1
                    if answer == "undecidable":
                        continue
                    net["decided"] += 1
                    agree = (answer == "allowed") == truth
                    net["agree"] += agree
                    if not agree:
                        net[f"disagree {proto}"] += 1
                        disagreements.append(f"{capture['test_id']}: {src_id} -> {dst_id} "
                                             f"{proto}:{port} tailscale={truth} here={answer}")
                if capture["folder"] != "grant_results":
                    continue
                caps["questions"] += 1
                if capabilities is None:
                    continue
                answer_caps = capabilities(model, src_id, dst_id)
                if not answer_caps.decided:
                    continue
                caps["decided"] += 1
                mine = {name: sorted(json.dumps(v, sort_keys=True) for v in values)
                        for name, values in answer_caps.values.items()}
                truth_caps = _granted(matches, _family(src_addrs, 4), _family(dst_addrs, 4))
                caps["agree"] += mine == truth_caps
                if mine != truth_caps:
                    disagreements.append(f"{capture['test_id']}: caps {src_id} -> {dst_id} "
                                         f"tailscale={truth_caps} here={mine}")
    return {"network": dict(net), "capabilities": dict(caps), "tests": dict(tests),
            "refusals": dict(refused), "disagreements": disagreements}


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f}%)" if whole else "0/0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("git_dir", help="a clone (or bare git dir) of juanfont/headscale")
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--show", type=int, default=10, help="disagreements to print")
    args = parser.parse_args(argv)
    result = measure(list(captures(args.git_dir, args.commit)))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    net, caps, refused = result["network"], result["capabilities"], result["refusals"]
    print(f"network questions decided: {_share(net.get('decided', 0), net.get('questions', 0))}")
    print(f"  agreeing with Tailscale:  {_share(net.get('agree', 0), net.get('decided', 0))}")
    for key, count in sorted(net.items()):
        if key.startswith("disagree"):
            print(f"  {key}: {count}")
    print(f"capability questions decided: "
          f"{_share(caps.get('decided', 0), caps.get('questions', 0))}")
    print(f"  agreeing with Tailscale:  {_share(caps.get('agree', 0), caps.get('decided', 0))}")
    print("policy tests:")
    for key, count in sorted(result["tests"].items()):
        print(f"  {key}: {count}")
    print(f"invalid policies refused offline: "
          f"{_share(refused.get('refused', 0), refused.get('invalid', 0))}")
    print(f"valid policies refused offline: "
          f"{_share(refused.get('valid but refused', 0), refused.get('valid', 0))}")
    for line in result["disagreements"][: args.show]:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
