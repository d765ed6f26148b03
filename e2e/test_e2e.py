"""Opt-in end-to-end test: a real `pulumi up` of this repository's program against a real
cluster and a test tailnet, kubectl through the tailnet as two different people, and
`pulumi destroy` leaving only the operator's own device, which the runbook's step then
deletes. See e2e/README.md for what it needs and how to run it.

Two identities: kubectl must reach the API server proxy *through the tailnet*, as the
tailnet user the grants talk about. `kubectl --as` would bypass the proxy and prove nothing,
so the test drives two separate tailscaled instances (userspace networking, each with its
own LocalAPI socket and SOCKS5 port), logged in as a reader and as an admin. Each gets its
own kubeconfig from `tailscale --socket=<its socket> configure kubeconfig`, with kubectl
sent through that instance's SOCKS5 proxy.

Skipped, with the list of what is missing, unless everything is there.
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "tailscale-cluster-access"
API = os.environ.get("TAILSCALE_BASE_URL", "https://api.tailscale.com").rstrip("/")
TIMEOUT = float(os.environ.get("E2E_TIMEOUT", "600"))
T = TypeVar("T")


# --- requirements -------------------------------------------------------------------------


def kubeconfig_path() -> Path | None:
    configured = os.environ.get("KUBECONFIG", "")
    candidates = [Path(p) for p in configured.split(os.pathsep) if p] if configured else [
        Path.home() / ".kube" / "config"]
    return next((path for path in candidates if path.is_file()), None)


def missing_requirements(env: Mapping[str, str]) -> list[str]:
    missing = [f"the {tool} CLI on PATH" for tool in ("pulumi", "kubectl", "tailscale")
               if shutil.which(tool) is None]
    if kubeconfig_path() is None:
        missing.append("a kubeconfig (KUBECONFIG or ~/.kube/config), e.g. from `kind create "
                       "cluster`")
    has_key = bool(env.get("TAILSCALE_API_KEY"))
    has_oauth = bool(env.get("TAILSCALE_OAUTH_CLIENT_ID") and env.get(
        "TAILSCALE_OAUTH_CLIENT_SECRET"))
    if not has_key and not has_oauth:
        missing.append("Tailscale credentials (TAILSCALE_API_KEY, or TAILSCALE_OAUTH_CLIENT_ID "
                       "and TAILSCALE_OAUTH_CLIENT_SECRET)")
    if not env.get("E2E_TAILNET"):
        missing.append("E2E_TAILNET, the throwaway tailnet whose policy the test rewrites")
    for role in ("READER", "ADMIN"):
        names = [f"E2E_{role}_{part}" for part in ("SOCKET", "SOCKS5", "LOGIN")]
        absent = [name for name in names if not env.get(name)]
        if absent:
            missing.append(f"a tailscaled logged in as the {role.lower()} ({', '.join(absent)})")
    return missing


_MISSING = missing_requirements(os.environ)
# A skip mark, not a module-level skip: pytest then exits 0 ("1 skipped"), not 5.
pytestmark = pytest.mark.skipif(
    bool(_MISSING), reason="end-to-end test skipped; it needs " + "; ".join(_MISSING)
    + ". See e2e/README.md.")


# --- small helpers ------------------------------------------------------------------------


def eventually(what: str, attempt: Callable[[], T | None], timeout: float = TIMEOUT,
               interval: float = 5.0) -> T:
    """Retry `attempt` until it returns something other than None, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        try:
            result = attempt()
            if result is not None:
                return result
        except Exception as error:  # the next attempt may succeed; keep the reason
            last_error = f" (last error: {error})"
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}{last_error}")
        time.sleep(interval)


def run(command: list[str], env: Mapping[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): "
                           f"{result.stderr.strip() or result.stdout.strip()}")
    return result


class TailscaleApi:
    """The few Tailscale API calls the test needs (stdlib only)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.tailnet = urllib.parse.quote(env["E2E_TAILNET"], safe="")
        self.api_key = env.get("TAILSCALE_API_KEY", "")
        self.client_id = env.get("TAILSCALE_OAUTH_CLIENT_ID", "")
        self.client_secret = env.get("TAILSCALE_OAUTH_CLIENT_SECRET", "")
        self._token = ""

    def token(self) -> str:
        if self.api_key:
            return self.api_key
        if not self._token:
            form = urllib.parse.urlencode({"client_id": self.client_id,
                                           "client_secret": self.client_secret,
                                           "grant_type": "client_credentials"}).encode()
            request = urllib.request.Request(f"{API}/api/v2/oauth/token", data=form,
                                             method="POST")
            with urllib.request.urlopen(request, timeout=30) as response:
                self._token = json.loads(response.read())["access_token"]
        return self._token

    def request(self, method: str, path: str, body: str | None = None,
                content_type: str = "application/json") -> bytes:
        """A call under /api/v2/tailnet/<tailnet>/."""
        return self.call(method, f"tailnet/{self.tailnet}/{path}", body, content_type)

    def call(self, method: str, path: str, body: str | None = None,
             content_type: str = "application/json") -> bytes:
        request = urllib.request.Request(
            f"{API}/api/v2/{path}", method=method,
            data=body.encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token()}", "Accept": content_type,
                     "Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:300]
            raise RuntimeError(f"{method} {path}: HTTP {error.code} {detail}") from None

    def policy(self) -> str:
        return self.request("GET", "acl", content_type="application/hujson").decode()

    def set_policy(self, hujson_text: str) -> None:
        self.request("POST", "acl", hujson_text, content_type="application/hujson")

    def devices(self) -> list[dict[str, Any]]:
        return list(json.loads(self.request("GET", "devices")).get("devices", []))

    def services(self) -> list[dict[str, Any]]:
        return list(json.loads(self.request("GET", "vip-services")).get("vipServices") or [])

    def delete_device(self, device: Mapping[str, Any]) -> None:
        device_id = urllib.parse.quote(str(device.get("nodeId") or device["id"]), safe="")
        self.call("DELETE", f"device/{device_id}")


# --- the stack ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    """Everything this run creates is named after a random id, so leftovers are findable
    and a rerun never collides with an earlier one."""

    run_id: str
    high_availability: bool

    @property
    def cluster(self) -> str:
        return f"e2e-{self.run_id}"

    @property
    def operator_hostname(self) -> str:
        return f"{self.cluster}-operator"

    @property
    def namespace(self) -> str:
        return f"tailscale-{self.cluster}"

    @property
    def tags(self) -> dict[str, str]:
        return {role: f"tag:{self.cluster}-{role}" for role in ("operator", "proxy", "recorder")}

    @property
    def reader_kubernetes_group(self) -> str:
        return f"{self.cluster}-readers"

    def is_ours(self, hostname: str, tags: list[str]) -> bool:
        return hostname.startswith(self.cluster) or bool(set(tags) & set(self.tags.values()))


def stack_config(names: Names, env: Mapping[str, str]) -> dict[str, Any]:
    """The stack configuration, as it would be written in `Pulumi.<stack>.yaml`."""
    admins, readers = f"group:{names.cluster}-admins", f"group:{names.cluster}-readers"
    config: dict[str, Any] = {
        "cluster": names.cluster,
        "tags": names.tags,
        "operator": {"namespace": names.namespace, "hostname": names.operator_hostname},
        "groups": {admins: [env["E2E_ADMIN_LOGIN"]], readers: [env["E2E_READER_LOGIN"]]},
        "access": [
            {"src": [admins], "kubernetesGroups": ["system:masters"]},
            {"src": [readers], "kubernetesGroups": [names.reader_kubernetes_group]},
        ],
        "roleBindings": [{"group": names.reader_kubernetes_group, "clusterRole": "view"}],
        # Keep the test tailnet's own rules; adopt its policy file as the base.
        "policy": {"base": "base-policy.hujson", "adoptExisting": True},
    }
    if names.high_availability:
        config["proxy"] = {"highAvailability": True, "hostname": names.cluster}
    return config


@dataclass
class Deployment:
    names: Names
    project: Path
    env: Mapping[str, str]

    def stack(self) -> Any:
        from pulumi import automation as auto

        # A copy of the repository's program in a throwaway project: the stack file, the base
        # policy and the local state all stay out of the checkout.
        shutil.copy(ROOT / "__main__.py", self.project / "__main__.py")
        (self.project / "Pulumi.yaml").write_text(json.dumps({
            "name": NAMESPACE,
            "runtime": {"name": "python",
                        "options": {"toolchain": "pip", "virtualenv": sys.prefix}},
        }))
        state = self.project / "state"
        state.mkdir(exist_ok=True)
        # Kept beside the state so a failed destroy can be finished by hand (e2e/README.md).
        passphrase = self.project / "passphrase"
        passphrase.write_text(secrets.token_urlsafe(24))
        passphrase.chmod(0o600)
        workspace_env = {"PULUMI_BACKEND_URL": state.as_uri(),
                         "PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase),
                         "PULUMI_SKIP_UPDATE_CHECK": "true"}
        stack = auto.create_stack(self.names.cluster, work_dir=str(self.project),
                                  opts=auto.LocalWorkspaceOptions(
                                      env_vars=workspace_env, secrets_provider="passphrase"))
        values = {f"{NAMESPACE}:{key}": auto.ConfigValue(
            value if isinstance(value, str) else json.dumps(value))
            for key, value in stack_config(self.names, self.env).items()}
        values["tailscale:tailnet"] = auto.ConfigValue(self.env["E2E_TAILNET"])
        if self.env.get("TAILSCALE_API_KEY"):
            values["tailscale:apiKey"] = auto.ConfigValue(self.env["TAILSCALE_API_KEY"],
                                                          secret=True)
        else:
            values["tailscale:oauthClientId"] = auto.ConfigValue(
                self.env["TAILSCALE_OAUTH_CLIENT_ID"])
            values["tailscale:oauthClientSecret"] = auto.ConfigValue(
                self.env["TAILSCALE_OAUTH_CLIENT_SECRET"], secret=True)
        if self.env.get("E2E_KUBE_CONTEXT"):
            values["kubernetes:context"] = auto.ConfigValue(self.env["E2E_KUBE_CONTEXT"])
        stack.set_all_config(values)
        return stack


@dataclass(frozen=True)
class Identity:
    role: str
    socket: str
    socks5: str
    login: str

    @classmethod
    def from_env(cls, role: str, env: Mapping[str, str]) -> "Identity":
        prefix = f"E2E_{role.upper()}_"
        return cls(role, env[prefix + "SOCKET"], env[prefix + "SOCKS5"], env[prefix + "LOGIN"])

    def tailscale(self, *args: str, env: Mapping[str, str] | None = None
                  ) -> subprocess.CompletedProcess[str]:
        return run(["tailscale", f"--socket={self.socket}", *args], env=env)

    def sees_peer(self, hostname: str) -> bool | None:
        status = json.loads(self.tailscale("status", "--json").stdout)
        peers = (status.get("Peer") or {}).values()
        return True if any(hostname in (peer.get("HostName"),
                                        str(peer.get("DNSName", "")).split(".")[0])
                           and peer.get("Online") for peer in peers) else None


class Kubectl:
    """kubectl as one tailnet identity: its own kubeconfig, through its own tailscaled."""

    def __init__(self, identity: Identity, target: str, folder: Path) -> None:
        self.identity = identity
        self.kubeconfig = folder / f"kubeconfig-{identity.role}"
        env = {"KUBECONFIG": str(self.kubeconfig)}
        identity.tailscale("configure", "kubeconfig", target, env=env)
        cluster = self.run("config", "view", "--minify", "-o",
                           "jsonpath={.clusters[0].name}").stdout.strip()
        self.run("config", "set-cluster", cluster, f"--proxy-url=socks5://{identity.socks5}")

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["kubectl", f"--kubeconfig={self.kubeconfig}", "--request-timeout=30s",
                    *args], check=check)

    def answers(self) -> bool | None:
        """The proxy lets this identity through and the API server says who it is."""
        result = self.run("auth", "whoami", "-o", "json", check=False)
        return True if result.returncode == 0 else None


def hostname(device: Mapping[str, Any]) -> str:
    return str(device.get("hostname") or device.get("name"))


def leftovers(api: TailscaleApi, names: Names, expected: set[str]
              ) -> tuple[list[dict[str, Any]], list[str]]:
    """This run's devices and Tailscale Services still in the tailnet, once only devices
    named in `expected` remain or after a grace period for the operator's cleanup to reach
    the control plane."""
    deadline = time.monotonic() + 180
    while True:
        devices = [d for d in api.devices()
                   if names.is_ours(str(d.get("hostname", "")), list(d.get("tags") or []))]
        services = [str(s.get("name")) for s in api.services()
                    if names.is_ours(str(s.get("name", "")).removeprefix("svc:"),
                                     list(s.get("tags") or []))]
        settled = {hostname(d) for d in devices} <= expected and not services
        if settled or time.monotonic() > deadline:
            return devices, services
        time.sleep(10)


def test_deploy_reader_admin_and_clean_destroy(tmp_path: Path) -> None:
    env = dict(os.environ)
    names = Names(secrets.token_hex(3), env.get("E2E_HIGH_AVAILABILITY", "") == "1")
    api = TailscaleApi(env)
    reader, admin = Identity.from_env("reader", env), Identity.from_env("admin", env)
    original_policy = api.policy()
    (tmp_path / "base-policy.hujson").write_text(original_policy)
    stack = Deployment(names, tmp_path, env).stack()
    print(f"e2e run {names.run_id}: project {tmp_path}, stack {names.cluster}")
    try:
        result = stack.up(on_output=print)
        outputs = {key: value.value for key, value in result.outputs.items()}
        assert outputs["proxyHostname"] == (names.cluster if names.high_availability
                                            else names.operator_hostname)
        target = str(outputs["kubeconfigCommand"]).split()[-1]

        if not names.high_availability:
            # `tailscale configure kubeconfig <host>` needs the proxy in the netmap.
            for identity in (reader, admin):
                eventually(f"{identity.role} to see {target} online",
                           partial(identity.sees_peer, target))
        as_reader = Kubectl(reader, target, tmp_path)
        as_admin = Kubectl(admin, target, tmp_path)
        # The first requests wait for the proxy's TLS certificate and the grants to arrive.
        for kubectl in (as_admin, as_reader):
            eventually(f"the API server proxy to answer the {kubectl.identity.role}",
                       kubectl.answers)

        who = json.loads(as_reader.run("auth", "whoami", "-o", "json").stdout)
        assert who["status"]["userInfo"]["username"] == reader.login
        assert names.reader_kubernetes_group in who["status"]["userInfo"]["groups"]

        pods = as_reader.run("get", "pods", "--all-namespaces", "-o", "name")
        assert pods.stdout.strip(), "the reader could not list any pod"
        denied = as_reader.run("get", "secrets", "-n", names.namespace, check=False)
        assert denied.returncode != 0
        assert "Forbidden" in denied.stderr and reader.login in denied.stderr, denied.stderr

        allowed = as_admin.run("get", "secrets", "-n", names.namespace, "-o", "name")
        assert "secret/tailscale-cluster-access-oauth" in allowed.stdout.split()
    finally:
        try:
            stack.destroy(on_output=print)
            stack.workspace.remove_stack(names.cluster)
        finally:
            # The stack never resets the policy on destroy; put the tailnet back as it was.
            api.set_policy(original_policy)

    # The ProxyGroup's and Recorder's devices go with their resources; the operator's own
    # device stays, as docs/runbooks.md says (nothing logs it out): its step is to delete it.
    devices, services = leftovers(api, names, {names.operator_hostname})
    for device in devices:
        if hostname(device) == names.operator_hostname:
            api.delete_device(device)
    assert sorted(hostname(d) for d in devices) == [names.operator_hostname], (
        f"after pulumi destroy, expected only the operator's device, found: "
        f"{[hostname(d) for d in devices]}")
    assert services == [], f"Tailscale Services left behind after pulumi destroy: {services}"
    remaining, _ = leftovers(api, names, set())
    assert remaining == [], f"devices left after deleting the operator's: {remaining}"
