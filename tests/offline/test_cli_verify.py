"""`verify` against a fake Kubernetes API server on 127.0.0.1 (plain HTTP, loopback only)."""

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tailscale_cluster_access.core.kubernetes_rights import builtin_role_rules

from tests.conftest import plan, run_cli

TOKEN = "verify-admin-token-0123456789"
ALICE = "alice@example.com"  # group:ml-engineers in the dev stack's policy
MAX_REQUESTS = 50
LIFETIME_SECONDS = 30.0

MASTERS_RULES = builtin_role_rules("cluster-admin")
VIEW_RULES = builtin_role_rules("view")
EDIT_RULES = builtin_role_rules("edit")


@dataclass
class FakeCluster:
    """What the fake API server answers: who the caller is, and each group's rules."""

    username: str = ALICE
    groups: list[str] = field(default_factory=lambda: ["system:masters", "system:authenticated"])
    group_rules: Mapping[str, list[dict[str, list[str]]]] = field(default_factory=lambda: {
        "system:masters": MASTERS_RULES, "tailnet-readers": VIEW_RULES})
    incomplete: bool = False
    identity_status: int = 201
    seen: list[dict[str, Any]] = field(default_factory=list)


def _handler(cluster: FakeCluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Mapping[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            groups = self.headers.get_all("Impersonate-Group") or []
            cluster.seen.append({"path": self.path, "groups": groups,
                                 "user": self.headers.get("Impersonate-User"),
                                 "authorization": self.headers.get("Authorization")})
            if len(cluster.seen) > MAX_REQUESTS:
                self._send(503, {"message": "too many requests"})
            elif self.path == "/apis/authentication.k8s.io/v1/selfsubjectreviews":
                if cluster.identity_status != 201:
                    self._send(cluster.identity_status, {"message": "forbidden"})
                    return
                self._send(201, {"kind": "SelfSubjectReview", "status": {"userInfo": {
                    "username": cluster.username, "groups": cluster.groups}}})
            elif self.path == "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews":
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._send(401, {"message": "Unauthorized"})
                elif groups and not self.headers.get("Impersonate-User"):
                    self._send(500, {"message": "requested [groups] without impersonating a "
                                     "user"})
                else:
                    rules = [rule for group in groups
                             for rule in cluster.group_rules.get(group, [])]
                    self._send(201, {"kind": "SelfSubjectRulesReview", "spec": body["spec"],
                                     "status": {"resourceRules": rules,
                                                "nonResourceRules": [],
                                                "incomplete": cluster.incomplete}})
            else:
                self._send(404, {"message": "not found"})

    return Handler


@contextmanager
def fake_api(cluster: FakeCluster) -> Iterator[str]:
    """The fake on 127.0.0.1; it shuts down at the end, or by itself after LIFETIME_SECONDS."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(cluster))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    timer = threading.Timer(LIFETIME_SECONDS, server.shutdown)
    timer.daemon = True
    timer.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        timer.cancel()
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def open_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        yield listener.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def admin_kubeconfig(tmp_path: Path, server: str, token: str = TOKEN) -> Path:
    path = tmp_path / "admin.yaml"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "admin",
        "clusters": [{"name": "gpu", "cluster": {"server": server}}],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": "admin", "context": {"cluster": "gpu", "user": "admin"}}],
    }))
    return path


@pytest.fixture(scope="module")
def dev_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("verify") / "dev"
    code, _, err = plan(out)
    assert code == 0, err
    return out


def verify(plan_dir: Path, server: str, *extra: str) -> tuple[int, str, str]:
    return run_cli("verify", "--plan", str(plan_dir), "--server", server, *extra)


def test_a_cluster_that_matches_the_plan_passes(dev_plan: Path, tmp_path: Path) -> None:
    cluster = FakeCluster()
    with fake_api(cluster) as server:
        code, out, err = verify(dev_plan, server, "--admin-kubeconfig",
                                str(admin_kubeconfig(tmp_path, server)), "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["ok"] is True and report["differences"] == []
    assert report["identity"]["rows"] == ["group:ml-engineers"]
    assert {row["src"]: row["clusterRights"] for row in report["rights"]["rows"]} == {
        "group:ml-engineers": report["rights"]["rows"][0]["plannedRights"],
        "group:ml-readers": [],
    }
    impersonated = sorted(tuple(r["groups"]) for r in cluster.seen if r["groups"])
    assert impersonated == [("system:masters",), ("tailnet-readers",)]
    assert all(r["user"] for r in cluster.seen if r["groups"])
    # The proxy authenticates by tailnet identity: the admin token never goes to it.
    assert [r["authorization"] for r in cluster.seen if "selfsubjectreviews" in r["path"]] == [
        None]


def test_a_binding_that_differs_from_the_plan_fails_naming_group_and_right(
        dev_plan: Path, tmp_path: Path) -> None:
    # Someone bound tailnet-readers to `edit` instead of `view`.
    cluster = FakeCluster(group_rules={"system:masters": MASTERS_RULES,
                                       "tailnet-readers": EDIT_RULES})
    with fake_api(cluster) as server:
        code, out, err = verify(dev_plan, server, "--admin-kubeconfig",
                                str(admin_kubeconfig(tmp_path, server)))
    assert code == 1, err
    differs = [line for line in out.splitlines() if line.startswith("differs: ")]
    assert len(differs) == 1
    assert "group:ml-readers (groups tailnet-readers)" in differs[0]
    assert "secrets:read" in differs[0] and "pods:exec" in differs[0]
    assert "which the plan does not give" in differs[0]
    assert out.splitlines()[-1] == "stack dev: 1 difference from the plan."


def test_a_planned_right_the_cluster_lacks_is_named(dev_plan: Path, tmp_path: Path) -> None:
    cluster = FakeCluster(group_rules={"system:masters": VIEW_RULES,
                                       "tailnet-readers": VIEW_RULES})
    with fake_api(cluster) as server:
        code, out, _ = verify(dev_plan, server, "--admin-kubeconfig",
                              str(admin_kubeconfig(tmp_path, server)), "--json")
    assert code == 1
    [difference] = json.loads(out)["differences"]
    assert difference.startswith("rights: group:ml-engineers (groups system:masters): the "
                                 "cluster does not grant cluster-admin, ")


def test_an_identity_the_cluster_sees_with_other_groups_fails_naming_them(
        dev_plan: Path) -> None:
    cluster = FakeCluster(groups=["system:masters", "oncall", "system:authenticated"])
    with fake_api(cluster) as server:
        code, out, _ = verify(dev_plan, server, "--json")
    assert code == 1
    report = json.loads(out)
    assert report["differences"] == [
        f"identity: the cluster sees {ALICE} in groups oncall that the plan does not give it "
        "(rows group:ml-engineers)"]
    assert report["identity"]["clusterGroups"] == ["oncall", "system:masters"]


def test_an_identity_without_a_planned_row_fails(dev_plan: Path) -> None:
    cluster = FakeCluster(username="mallory@example.com", groups=["system:authenticated"])
    with fake_api(cluster) as server:
        code, out, _ = verify(dev_plan, server)
    assert code == 1
    assert "differs: identity: the cluster sees mallory@example.com (groups none) but no row " \
        "of the plan applies to it" in out


def test_as_names_the_row_of_a_tagged_caller(dev_plan: Path) -> None:
    cluster = FakeCluster(username="ci-runner", groups=["tailnet-readers"])
    with fake_api(cluster) as server:
        code, out, err = verify(dev_plan, server, "--as", "group:ml-readers")
    assert (code, err) == (0, ""), out
    assert "identity: ci-runner in groups tailnet-readers (planned tailnet-readers)" in out


def test_a_public_endpoint_that_still_accepts_connections_fails(dev_plan: Path) -> None:
    with fake_api(FakeCluster()) as server, open_port() as port:
        # The listener never answers the TLS handshake: --timeout bounds the wait.
        code, out, _ = verify(dev_plan, server, "--public-endpoint", f"127.0.0.1:{port}",
                              "--timeout", "1", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["publicEndpoint"]["state"] == "accepts TCP"
    assert report["differences"] == [
        f"public endpoint: 127.0.0.1:{port} still {report['publicEndpoint']['state']} "
        "connections; lock it (docs/verify.md)"]


def test_a_closed_public_endpoint_passes(dev_plan: Path) -> None:
    with fake_api(FakeCluster()) as server:
        code, out, _ = verify(dev_plan, server, "--public-endpoint",
                              f"https://127.0.0.1:{closed_port()}", "--json")
    assert code == 0, out
    assert json.loads(out)["publicEndpoint"]["state"] == "closed"


def test_the_stack_is_planned_in_process_when_no_plan_folder_is_given() -> None:
    cluster = FakeCluster(groups=["tailnet-readers"])
    with fake_api(cluster) as server:
        code, out, _ = run_cli("verify", "--stack", "dev", "--server", server, "--json")
    assert code == 1
    report = json.loads(out)
    assert report["stack"] == "dev"
    assert report["differences"] == [
        f"identity: the cluster sees {ALICE} in groups tailnet-readers that the plan does not "
        "give it (rows group:ml-engineers)",
        f"identity: the cluster sees {ALICE} without the planned groups system:masters "
        "(rows group:ml-engineers)"]


def test_an_unreachable_proxy_is_a_failure_not_a_pass(dev_plan: Path) -> None:
    code, out, _ = verify(dev_plan, f"http://127.0.0.1:{closed_port()}", "--timeout", "2")
    assert code == 1
    assert "differs: identity: could not check: http://127.0.0.1:" in out


def test_a_refused_token_is_reported_without_the_token(dev_plan: Path, tmp_path: Path) -> None:
    wrong = "wrong-token-abcdefghijkl"
    with fake_api(FakeCluster()) as server:
        code, out, err = verify(dev_plan, server, "--admin-kubeconfig",
                                str(admin_kubeconfig(tmp_path, server, wrong)))
    assert code == 1
    assert "differs: rights: could not check: " in out and "HTTP 401" in out
    assert wrong not in out + err and TOKEN not in out + err


@pytest.mark.parametrize(("argv", "named"), [
    (["--server", "http://example.com"], "--server 'http://example.com'"),
    (["--server", "ftp://127.0.0.1"], "--server 'ftp://127.0.0.1'"),
    (["--public-endpoint", "https://"], "--public-endpoint 'https://'"),
    (["--as", "group:nobody"], "--as group:nobody"),
    (["--timeout", "0"], "--timeout 0.0"),
])
def test_bad_input_exits_2_naming_the_flag(dev_plan: Path, argv: list[str], named: str) -> None:
    extra = [] if "--server" in argv else ["--server", "http://127.0.0.1:9"]
    code, out, err = run_cli("verify", "--plan", str(dev_plan), *extra, *argv)
    assert (code, out) == (2, "")
    assert named in err and "Traceback" not in err


def test_an_admin_kubeconfig_without_a_token_is_bad_input(dev_plan: Path,
                                                          tmp_path: Path) -> None:
    path = admin_kubeconfig(tmp_path, "http://example.com:6443", token="")
    code, _, err = verify(dev_plan, "http://127.0.0.1:9", "--admin-kubeconfig", str(path))
    assert code == 2
    # Every problem at once: the server that is not https and the missing token.
    assert "server 'http://example.com:6443'" in err and "has no bearer token" in err


def test_stack_and_plan_are_one_or_the_other(dev_plan: Path) -> None:
    code, _, err = run_cli("verify", "--stack", "dev", "--plan", str(dev_plan))
    assert code == 2 and "one of the two" in err


def test_an_incomplete_answer_counts_rights_too_many_but_not_rights_missing(
        dev_plan: Path, tmp_path: Path) -> None:
    # A webhook authorizer that cannot list rules: RBAC's rules are all the answer holds.
    cluster = FakeCluster(incomplete=True, group_rules={"system:masters": VIEW_RULES,
                                                        "tailnet-readers": EDIT_RULES})
    with fake_api(cluster) as server:
        code, out, _ = verify(dev_plan, server, "--admin-kubeconfig",
                              str(admin_kubeconfig(tmp_path, server)), "--json")
    assert code == 1
    report = json.loads(out)
    [difference] = report["differences"]
    assert difference.startswith("rights: group:ml-readers (groups tailnet-readers): the "
                                 "cluster grants ")
    assert sum("is incomplete" in note for note in report["notes"]) == 2


def test_a_proxy_refusing_every_request_points_at_the_recorder(dev_plan: Path) -> None:
    with fake_api(FakeCluster(identity_status=403)) as server:
        code, out, _ = verify(dev_plan, server)
    assert code == 1
    assert "HTTP 403" in out and "Is the recorder down? With enforceRecorder" in out


OTHER_GROUPS = st.sets(st.sampled_from(["oncall", "tailnet-readers", "system:masters", "view"]))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seen=OTHER_GROUPS)
def test_identity_differences_are_exactly_the_groups_the_plan_does_not_give(
        dev_plan: Path, seen: set[str]) -> None:
    planned = {"system:masters"}  # alice's row: group:ml-engineers
    cluster = FakeCluster(groups=[*sorted(seen), "system:authenticated"])
    with fake_api(cluster) as server:
        code, out, _ = verify(dev_plan, server, "--json")
    identity = json.loads(out)["identity"]
    assert identity["clusterGroups"] == sorted(seen)
    assert code == (0 if seen == planned else 1)
    differences = json.loads(out)["differences"]
    for group in seen ^ planned:
        assert sum(group in d for d in differences) == 1


def test_verify_of_a_plan_folder_needs_no_pulumi(dev_plan: Path) -> None:
    with fake_api(FakeCluster()) as server:
        probe = ("import sys\n"
                 "from tailscale_cluster_access.offline.cli import main\n"
                 f"code = main(['verify', '--plan', {str(dev_plan)!r}, '--server', {server!r}])\n"
                 "assert code == 0, code\n"
                 "assert not any(m.split('.')[0] == 'pulumi' for m in sys.modules)\n")
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "stack dev: the cluster agrees with the plan."


def test_the_proxy_url_comes_from_the_plan_when_known_else_from_the_tailnet() -> None:
    from argparse import Namespace

    from tailscale_cluster_access.offline.verify import _proxy_url

    deployed = {"proxyUrl": "https://gpu-api.tail1234.ts.net", "proxyHostname": "gpu-api"}
    planned = {"proxyUrl": "[unknown]", "proxyHostname": "tailscale-operator"}
    assert _proxy_url(Namespace(server=None, tailnet=None), deployed) == deployed["proxyUrl"]
    assert _proxy_url(Namespace(server=None, tailnet="tail1234.ts.net."), planned) == (
        "https://tailscale-operator.tail1234.ts.net")
    assert _proxy_url(Namespace(server="https://x.ts.net/", tailnet=None), deployed) == (
        "https://x.ts.net")


def test_a_bad_certificate_authority_is_bad_input(dev_plan: Path, tmp_path: Path) -> None:
    path = admin_kubeconfig(tmp_path, "https://gpu.example.com:6443")
    document = yaml.safe_load(path.read_text())
    document["clusters"][0]["cluster"]["certificate-authority-data"] = "not base64!"
    path.write_text(yaml.safe_dump(document))
    code, out, err = verify(dev_plan, "http://127.0.0.1:9", "--admin-kubeconfig", str(path))
    assert (code, out) == (2, "")
    assert "certificate-authority-data is not a base64 PEM certificate" in err
    assert TOKEN not in err
