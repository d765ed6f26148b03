"""A small Kubernetes API client for `verify`: one bounded POST, an admin kubeconfig's
server, CA and bearer token, and the URL rules (https, or http to a loopback address only)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..core.safe_read import FileProblem, load_json, read_yaml
from .project import InputError

if TYPE_CHECKING:
    import ssl

# The network modules are imported by the functions that use them: every command builds the
# CLI's parser, and should not pay for them at start.

IMPERSONATED_USER = "tailscale-cluster-access:verify"
"""The user the rights check impersonates (Kubernetes requires a user with groups); it
should hold no binding of its own."""
MAX_RESPONSE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Endpoint:
    """An API server to ask: URL, TLS context, and a bearer token (admin kubeconfig only)."""

    url: str
    context: ssl.SSLContext | None
    token: str = field(default="", repr=False)


class ApiProblem(Exception):
    """The API server could not be asked, or its answer was not what Kubernetes sends."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


# -- input ---------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_url(text: str, flag: str) -> str:
    """`text` as an API server URL: https, or http to a loopback address only."""
    parts = urlsplit(text.strip())
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return text.strip().rstrip("/")
    if parts.scheme == "http" and _is_loopback(host):
        return text.strip().rstrip("/")
    raise InputError(f"{flag} {text!r}: not an https:// URL with a host (http:// is accepted "
                     "for a loopback address only). Fix: pass the URL `tailscale configure "
                     "kubeconfig` writes, e.g. https://tailscale-operator.<tailnet>.ts.net.")


def _find(entries: Any, name: Any, key: str, what: str, path: str) -> Mapping[str, Any]:
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, Mapping) and entry.get("name") == name:
                body = entry.get(key)
                if isinstance(body, Mapping):
                    return body
    raise InputError(f"--admin-kubeconfig {path}: no {what} named {name!r} (current-context). "
                     f"Fix: point current-context at a context whose {what} is defined.")


def read_admin_kubeconfig(path: str) -> Endpoint:
    """The current context's server, CA and bearer token; every unsupported form refused."""
    try:
        document = read_yaml(path, what="admin kubeconfig")
    except FileProblem as problem:
        raise InputError(f"--admin-kubeconfig: {problem}") from None
    if not isinstance(document, Mapping):
        raise InputError(f"--admin-kubeconfig {path}: not a kubeconfig (a YAML mapping).")
    current = document.get("current-context")
    context = _find(document.get("contexts"), current, "context", "context", path)
    cluster = _find(document.get("clusters"), context.get("cluster"), "cluster", "cluster", path)
    user = _find(document.get("users"), context.get("user"), "user", "user", path)
    problems: list[str] = []
    url = ""
    try:
        url = server_url(str(cluster.get("server", "")), f"--admin-kubeconfig {path}: server")
    except InputError as error:
        problems.append(str(error))
    token = user.get("token")
    if token is None and isinstance(user.get("tokenFile"), str):
        try:
            token = Path(user["tokenFile"]).read_text(encoding="utf-8").strip()
        except OSError as error:
            problems.append(f"--admin-kubeconfig {path}: users[].user.tokenFile: cannot read "
                            f"it ({error.strerror}).")
    if not isinstance(token, str) or not token:
        problems.append(f"--admin-kubeconfig {path}: user {context.get('user')!r} has no bearer "
                        "token; only `token` or `tokenFile` is supported (not client "
                        "certificates, exec or auth-provider plugins). Fix: use a "
                        "ServiceAccount token, e.g. `kubectl create token ...`.")
    context_tls = None
    if url.startswith("https://"):
        try:
            context_tls = _tls_context(cluster, path)
        except InputError as error:
            problems.append(str(error))
    if problems:
        raise InputError("\n".join(problems))
    assert isinstance(token, str)
    return Endpoint(url, context_tls, token)


def insecure_context() -> ssl.SSLContext:
    """TLS without verifying the peer: `insecure-skip-tls-verify`, or only asking whether an
    endpoint speaks TLS at all."""
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _tls_context(cluster: Mapping[str, Any], path: str) -> ssl.SSLContext:
    import base64
    import binascii
    import ssl

    if cluster.get("insecure-skip-tls-verify") is True:
        return insecure_context()
    data = cluster.get("certificate-authority-data")
    if isinstance(data, str):
        try:
            pem = base64.b64decode(data, validate=True).decode("ascii")
            return ssl.create_default_context(cadata=pem)
        except (binascii.Error, UnicodeDecodeError, ssl.SSLError):
            raise InputError(f"--admin-kubeconfig {path}: certificate-authority-data is not "
                             "a base64 PEM certificate.") from None
    authority = cluster.get("certificate-authority")
    if isinstance(authority, str):
        try:
            return ssl.create_default_context(cafile=authority)
        except (OSError, ssl.SSLError):
            raise InputError(f"--admin-kubeconfig {path}: certificate-authority {authority}: "
                             "not a readable PEM file.") from None
    return ssl.create_default_context()


# -- the API -------------------------------------------------------------------------------


def post(endpoint: Endpoint, path: str, body: Mapping[str, Any], *, timeout: float,
         groups: Sequence[str] = ()) -> dict[str, Any]:
    """POST `body` to `path`, impersonating `groups` when given; the JSON answer.

    One request, no redirects followed (a token must not go elsewhere), the answer bounded."""
    import http.client
    import ssl

    parts = urlsplit(endpoint.url)
    base_path = parts.path.rstrip("/")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout,
            context=endpoint.context or ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port,
                                                timeout=timeout)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if endpoint.token:
        headers["Authorization"] = f"Bearer {endpoint.token}"
    try:
        connection.putrequest("POST", base_path + path)
        for name, value in headers.items():
            connection.putheader(name, value)
        if groups:
            connection.putheader("Impersonate-User", IMPERSONATED_USER)
            for group in groups:
                connection.putheader("Impersonate-Group", group)
        payload = json.dumps(body).encode()
        connection.putheader("Content-Length", str(len(payload)))
        connection.endheaders(payload)
        response = connection.getresponse()
        data = response.read(MAX_RESPONSE_BYTES + 1)
    except (OSError, http.client.HTTPException) as error:
        raise ApiProblem(f"{endpoint.url}: cannot reach it ({error_reason(error)}).") from None
    finally:
        connection.close()
    if len(data) > MAX_RESPONSE_BYTES:
        raise ApiProblem(f"{endpoint.url}{path}: the answer is larger than "
                         f"{MAX_RESPONSE_BYTES} bytes.")
    if response.status not in (200, 201):
        raise ApiProblem(f"{endpoint.url}{path}: HTTP {response.status} {response.reason}"
                         f"{_status_message(data)}.", response.status)
    try:
        answer = load_json(data.decode("utf-8", "replace"), source=endpoint.url + path)
    except FileProblem as problem:
        raise ApiProblem(str(problem)) from None
    if not isinstance(answer, dict):
        raise ApiProblem(f"{endpoint.url}{path}: the answer is not a JSON object.")
    return answer


def error_reason(error: BaseException) -> str:
    import socket
    import ssl

    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS: {error.verify_message}"
    if isinstance(error, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return type(error).__name__


def _status_message(data: bytes) -> str:
    try:
        message = json.loads(data).get("message")
    except (ValueError, AttributeError):
        return ""
    return f": {message[:300]}" if isinstance(message, str) and message else ""
