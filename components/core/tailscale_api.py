"""Ask Tailscale whether it would accept a tailnet policy file, without writing it.

Plain stdlib (urllib), no Pulumi: the request and response shapes follow Tailscale's API
reference for `POST /api/v2/tailnet/{tailnet}/acl/validate` ("Validate and test policy
file"; OAuth scope `policy_file:read`) and the clients the Tailscale provider is built on
(tailscale-client-go-v2 `PolicyFileResource.Validate`, `APIError`):

- request body: the policy as HuJSON, `Content-Type: application/hujson`;
- 200 with an empty body or `{}`: the policy parses and its `tests` pass;
- 200 with `{"message": "test(s) failed", "data": [{"user": ..., "errors": [...]}]}`:
  rejected; `data` entries may carry `warnings` only ("warning(s) found"), which do not
  reject the policy;
- 400 with `{"message": ...}`: the policy does not parse or is invalid (Tailscale's message,
  with line and column where it has them).

`get_policy` reads the live policy file: `GET /api/v2/tailnet/{tailnet}/acl` with
`Accept: application/hujson` (API reference "Get policy file", OAuth scope
`policy_file:read`; tailscale-client-go-v2 `PolicyFileResource.Raw`): 200 with the policy
as stored, comments included, and an `ETag` header naming that version.

Credentials and their precedence mirror the Tailscale provider (terraform-provider-tailscale
`provider.go`): an API key (HTTP Basic, key as user name) or an OAuth client whose
client-credentials token (`POST {base}/api/v2/oauth/token`) is sent as a Bearer token.

A stack file is written by whoever opened the pull request, and the reviewer's credentials
come from the reviewer's environment, so credentials go only where the reviewer sent them:
Tailscale's API, a base URL from the environment (`TAILSCALE_BASE_URL`), or a base URL of the
config whose origin the environment names in `TAILSCALE_CLUSTER_ACCESS_ALLOW_BASE_URL`. A
redirect to another origin is not followed, and user info in a base URL is dropped.
"""

import base64
import http.client
import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from .identifiers import redact_secret_shapes

DEFAULT_BASE_URL = "https://api.tailscale.com"
DEFAULT_TAILNET = "-"
DEFAULT_TIMEOUT = 15.0

# Short Pulumi config keys in the `tailscale` namespace -> the provider's environment variables.
CONFIG_ENV = {
    "apiKey": ("TAILSCALE_API_KEY",),
    "oauthClientId": ("TAILSCALE_OAUTH_CLIENT_ID", "OAUTH_CLIENT_ID"),
    "oauthClientSecret": ("TAILSCALE_OAUTH_CLIENT_SECRET", "OAUTH_CLIENT_SECRET"),
    "tailnet": ("TAILSCALE_TAILNET",),
    "baseUrl": ("TAILSCALE_BASE_URL",),
    "identityToken": ("TAILSCALE_IDENTITY_TOKEN",),
}

# Names the one origin besides Tailscale's that a base URL from the config may have.
ALLOW_BASE_URL_ENV = "TAILSCALE_CLUSTER_ACCESS_ALLOW_BASE_URL"

_BODY_EXCERPT = 300


class ApiError(RuntimeError):
    """The check could not get a verdict from Tailscale (network, credentials, server)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ApiSettings:
    """Where and how to reach the Tailscale API. Secrets are kept out of `repr`."""

    base_url: str = DEFAULT_BASE_URL
    tailnet: str = DEFAULT_TAILNET
    api_key: str = field(default="", repr=False)
    oauth_client_id: str = ""
    oauth_client_secret: str = field(default="", repr=False)

    @property
    def uses_oauth(self) -> bool:
        return bool(self.oauth_client_id)

    @property
    def auth_description(self) -> str:
        return "an OAuth client" if self.uses_oauth else "an API key"


@dataclass(frozen=True)
class PolicyVerdict:
    """Tailscale's answer: `problems` reject the policy, `warnings` do not."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not self.problems


def _setting(name: str, env: Mapping[str, str], config: Mapping[str, str | None]) -> str:
    # Like the provider: an explicit config value wins, else the first env variable set.
    value = config.get(name)
    if value:
        return value.strip()
    for variable in CONFIG_ENV[name]:
        if env.get(variable):
            return env[variable].strip()
    return ""


def origin(url: str) -> str:
    """`scheme://host[:port]` of `url`, without user info ("" when it has no host)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        return ""
    try:
        port = parts.port
    except ValueError:
        return ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def without_userinfo(url: str) -> str:
    """`url` with any `user:password@` removed."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@]*@")


def printable(text: str, settings: "ApiSettings | None" = None) -> str:
    """`text` safe to print: no user info in URLs, no secret of `settings`, nothing that
    looks like a credential."""
    text = _URL_USERINFO.sub(r"\1", text)
    if settings is not None:
        for secret in (settings.api_key, settings.oauth_client_secret):
            if len(secret) >= 4:
                text = text.replace(secret, "[secret]")
    return redact_secret_shapes(text)


def _trusted_base_url(base_url: str, env: Mapping[str, str],
                      config: Mapping[str, str | None]) -> str:
    """Why credentials may not go to `base_url` ("" when they may)."""
    target = origin(base_url)
    if target == DEFAULT_BASE_URL:
        return ""
    from_config = bool((config.get("baseUrl") or "").strip())
    if not from_config:
        return ""  # The environment's own TAILSCALE_BASE_URL.
    allowed = origin(env.get(ALLOW_BASE_URL_ENV, "").strip())
    if allowed and allowed == target:
        return ""
    return (f"the base URL of the config (tailscale:baseUrl, {target or 'no host'}) is not "
            f"Tailscale's API ({DEFAULT_BASE_URL}); the check sends credentials there only "
            f"when the environment names it: {ALLOW_BASE_URL_ENV}={target or '<origin>'}")


def settings_from(env: Mapping[str, str],
                  config: Mapping[str, str | None]) -> tuple[ApiSettings | None, str]:
    """Credentials from `tailscale:*` config (short keys, e.g. `apiKey`) and the environment.

    Returns `(settings, "")`, or `(None, reason)` when there is nothing usable; the reason
    names the settings to set.
    """
    api_key = _setting("apiKey", env, config)
    client_id = _setting("oauthClientId", env, config)
    client_secret = _setting("oauthClientSecret", env, config)
    identity_token = _setting("identityToken", env, config)
    tailnet = _setting("tailnet", env, config) or DEFAULT_TAILNET
    base_url = (_setting("baseUrl", env, config) or DEFAULT_BASE_URL).rstrip("/")

    if not api_key and not client_id and not client_secret:
        return None, ("no Tailscale credentials: set TAILSCALE_API_KEY (or tailscale:apiKey), or "
                      "TAILSCALE_OAUTH_CLIENT_ID and TAILSCALE_OAUTH_CLIENT_SECRET (or "
                      "tailscale:oauthClientId and tailscale:oauthClientSecret)")
    if api_key and (client_id or client_secret):
        return None, ("conflicting Tailscale credentials: an API key and an OAuth client are both "
                      "set (the provider refuses this too); keep only one")
    if client_id and not client_secret:
        if identity_token:
            return None, ("the Tailscale credentials are a federated identity "
                          "(oauthClientId + identityToken), which this check does not support")
        return None, "tailscale:oauthClientId is set but tailscale:oauthClientSecret is empty"
    if client_secret and not client_id:
        return None, "tailscale:oauthClientSecret is set but tailscale:oauthClientId is empty"

    base_url = without_userinfo(base_url)
    parsed = urllib.parse.urlsplit(base_url)
    if parsed.scheme not in ("http", "https") or not origin(base_url):
        return None, (f"the Tailscale base URL {printable(base_url)!r} is not an http(s) URL "
                      "(TAILSCALE_BASE_URL / tailscale:baseUrl)")
    untrusted = _trusted_base_url(base_url, env, config)
    if untrusted:
        return None, untrusted
    return ApiSettings(base_url=base_url, tailnet=tailnet, api_key=api_key,
                       oauth_client_id=client_id, oauth_client_secret=client_secret), ""


def _opener(url: str) -> urllib.request.OpenerDirector:
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    # A corporate proxy from the environment applies to the real API, never to loopback.
    return urllib.request.build_opener(urllib.request.ProxyHandler({} if loopback else None),
                                       _SameOriginRedirects())


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects within the origin only: urllib would resend the Authorization
    header (and so the credentials) to any host a response names."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: http.client.HTTPMessage,
                         newurl: str) -> urllib.request.Request | None:
        target = urllib.parse.urljoin(req.full_url, newurl)
        if origin(target) != origin(req.full_url):
            raise urllib.error.URLError(
                f"the answer redirects to another origin ({origin(target) or 'no host'}), "
                "where the credentials are not sent")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _excerpt(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return text if len(text) <= _BODY_EXCERPT else text[:_BODY_EXCERPT] + "..."


def _json_object(body: bytes) -> dict[str, Any] | None:
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _send_for_headers(request: urllib.request.Request, what: str,
                      timeout: float) -> tuple[int, bytes, Message]:
    """Send `request`; HTTP error statuses are returned, transport failures raise ApiError."""
    try:
        with _opener(request.full_url).open(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read()), response.headers
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read() or b""), error.headers
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ApiError(f"{what}: could not reach {request.full_url}: {reason}") from None


def _send(request: urllib.request.Request, what: str, timeout: float) -> tuple[int, bytes]:
    status, body, _ = _send_for_headers(request, what, timeout)
    return status, body


def _http_failure(what: str, status: int, body: bytes) -> ApiError:
    payload = _json_object(body)
    detail = str(payload.get("message", "")) if payload else ""
    detail = detail or _excerpt(body) or "(empty response)"
    hint = ""
    if status == 401:
        hint = " Check the API key or OAuth client credentials."
    elif status == 403:
        hint = " The credentials need the policy_file:read scope."
    elif status == 404:
        hint = (" Check the tailnet name (TAILSCALE_TAILNET / tailscale:tailnet; '-' is the "
                "default).")
    return ApiError(f"{what} failed with HTTP {status}: {detail}.{hint}", status)


def fetch_oauth_token(settings: ApiSettings, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Exchange the OAuth client's credentials for an access token (client credentials)."""
    url = f"{settings.base_url}/api/v2/oauth/token"
    form = urllib.parse.urlencode({
        "client_id": settings.oauth_client_id,
        "client_secret": settings.oauth_client_secret,
        "grant_type": "client_credentials",
    }).encode()
    request = urllib.request.Request(url, data=form, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
    what = f"Requesting an OAuth access token for client {settings.oauth_client_id}"
    status, body = _send(request, what, timeout)
    if status != 200:
        raise _http_failure(what, status, body)
    payload = _json_object(body)
    token = payload.get("access_token") if payload else None
    if not isinstance(token, str) or not token:
        raise ApiError(f"{what}: the response has no access_token: {_excerpt(body)!r}", status)
    return token


@dataclass(frozen=True)
class LivePolicy:
    """The tailnet's current policy file as Tailscale returns it."""

    hujson: str
    etag: str = ""


def authorization_header(settings: ApiSettings, timeout: float = DEFAULT_TIMEOUT) -> str:
    """The `Authorization` header value; an OAuth client costs one token request, so callers
    making several requests can fetch it once and pass it on."""
    if settings.uses_oauth:
        return f"Bearer {fetch_oauth_token(settings, timeout)}"
    # The provider's client sends the key as the Basic-auth user name with no password.
    return "Basic " + base64.b64encode(f"{settings.api_key}:".encode()).decode()


def _data_entries(data: Any) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    warnings: list[str] = []
    for entry in data if isinstance(data, list) else []:
        if isinstance(entry, str):
            problems.append(entry)
            continue
        if not isinstance(entry, dict):
            continue
        who = entry.get("user") or entry.get("src") or ""
        prefix = f"test for {who}: " if who else ""
        problems.extend(f"{prefix}{error}" for error in entry.get("errors") or [])
        warnings.extend(f"{prefix}{warning}" for warning in entry.get("warnings") or [])
    return problems, warnings


def _verdict(payload: dict[str, Any]) -> PolicyVerdict:
    message = str(payload.get("message") or "").strip()
    problems, warnings = _data_entries(payload.get("data"))
    if problems:
        return PolicyVerdict([f"{message}: {p}" if message else p for p in problems], warnings)
    if message and not warnings:
        return PolicyVerdict([message], [])
    return PolicyVerdict([], warnings)


def _acl_url(settings: ApiSettings, suffix: str = "") -> str:
    tailnet = urllib.parse.quote(settings.tailnet, safe="")
    return f"{settings.base_url}/api/v2/tailnet/{tailnet}/acl{suffix}"


def check_policy(policy_text: str, settings: ApiSettings, timeout: float = DEFAULT_TIMEOUT,
                 authorization: str | None = None) -> PolicyVerdict:
    """Send the whole policy to Tailscale's validate endpoint; nothing is written.

    `authorization` is a header from `authorization_header` (fetched when not given).
    Raises ApiError when no verdict could be had (unreachable, bad credentials, 5xx).
    """
    url = _acl_url(settings, "/validate")
    headers = {"Content-Type": "application/hujson", "Accept": "application/json",
               "Authorization": authorization or authorization_header(settings, timeout)}
    request = urllib.request.Request(url, data=policy_text.encode("utf-8"), method="POST",
                                     headers=headers)
    what = f"Validating the tailnet policy with Tailscale (tailnet {settings.tailnet!r})"
    status, body = _send(request, what, timeout)
    payload = _json_object(body)
    if status == 200:
        if payload is None:
            raise ApiError(f"{what}: the response is not a JSON object: {_excerpt(body)!r}", status)
        return _verdict(payload)
    if status == 400 and payload and (payload.get("message") or payload.get("data")):
        verdict = _verdict(payload)
        if verdict.problems:
            return verdict
    raise _http_failure(what, status, body)


def validate_policy(policy_text: str, settings: ApiSettings,
                    timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """Tailscale's reasons to reject `policy_text`; an empty list means it is accepted."""
    return check_policy(policy_text, settings, timeout).problems


def fetch_policy(settings: ApiSettings, timeout: float = DEFAULT_TIMEOUT,
                 authorization: str | None = None) -> LivePolicy:
    """The tailnet's current policy file (HuJSON, as stored) and its ETag.

    Raises ApiError when it cannot be had (unreachable, bad credentials, missing
    `policy_file:read` scope, unknown tailnet, 5xx, a body that is not UTF-8).
    """
    headers = {"Accept": "application/hujson",
               "Authorization": authorization or authorization_header(settings, timeout)}
    request = urllib.request.Request(_acl_url(settings), method="GET", headers=headers)
    what = f"Reading the live tailnet policy from Tailscale (tailnet {settings.tailnet!r})"
    status, body, response_headers = _send_for_headers(request, what, timeout)
    if status != 200:
        raise _http_failure(what, status, body)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(f"{what}: the response is not UTF-8 text: {error}", status) from None
    return LivePolicy(text, response_headers.get("ETag", ""))


def get_policy(settings: ApiSettings, timeout: float = DEFAULT_TIMEOUT,
               authorization: str | None = None) -> str:
    """The tailnet's current policy file as HuJSON text (see `fetch_policy`)."""
    return fetch_policy(settings, timeout, authorization).hujson
