"""Names and identifiers, matched one way everywhere: the whole value, in ASCII.

A pattern built here can't accept a value with a trailing newline (`re.match` with `$` does)
or with non-ASCII digits and letters (`\\d` and `\\w` do without `re.ASCII`).
"""

import re


class Identifier:
    """A pattern a value must match whole, in ASCII; `what` names it for people (the config
    reference, error messages)."""

    __slots__ = ("pattern", "what")

    def __init__(self, pattern: str, what: str = "") -> None:
        self.pattern = re.compile(pattern, re.ASCII)
        self.what = what

    @property
    def json_pattern(self) -> str:
        """The same rule as a JSON Schema (ECMA-262) pattern, anchored at both ends."""
        return f"^(?:{self.pattern.pattern})$"

    def match(self, value: object) -> bool:
        return isinstance(value, str) and self.pattern.fullmatch(value) is not None


# A DNS label: names of clusters, namespaces and tailnet hosts.
DNS_LABEL = Identifier(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", "DNS label")
TAG = Identifier(r"tag:[a-zA-Z][a-zA-Z0-9-]*", "tag")
GROUP = Identifier(r"group:[a-zA-Z0-9][a-zA-Z0-9._+-]*(@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,})?",
                   "group")
USER = Identifier(r"[a-zA-Z0-9._%+'-]+@[a-zA-Z0-9.-]+(\.[a-zA-Z]{2,}|@github|@passkey)?",
                  "login email")
DOMAIN_WILDCARD = Identifier(r"\*@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}")
# kb/1337: every user of a domain is written `user:*@<domain>` (the bare form is refused).
USER_DOMAIN_WILDCARD = Identifier(r"user:\*@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}")
POSTURE = Identifier(r"posture:[a-zA-Z0-9][a-zA-Z0-9_-]*", "posture")
# ClusterRole names are path segments; `system:aggregate-to-view` style colons are common.
CLUSTER_ROLE = Identifier(r"[a-zA-Z0-9]([a-zA-Z0-9:._-]{0,251}[a-zA-Z0-9])?", "ClusterRole name")
KUBERNETES_GROUP = Identifier(r"[a-zA-Z0-9]([a-zA-Z0-9:._@/-]{0,251}[a-zA-Z0-9])?",
                              "Kubernetes group")
# Semantic versions have no leading zeros (`01.92.3` is not 1.92.3 to Helm).
CHART_VERSION = Identifier(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)", "`x.y.z`")
# A GitOps repo may also use a custom tailnet DNS name; it only has to look like one.
ANY_DOMAIN = Identifier(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+",
                        "DNS name")
# `<org>/<project>/<stack>`, `<project>/<stack>` or `<stack>`, as `pulumi stack ls` shows them.
STACK_NAME = Identifier(r"([A-Za-z0-9][A-Za-z0-9_.-]*/){0,2}[A-Za-z0-9][A-Za-z0-9_.-]*",
                        "stack name")

# Tailscale OAuth client IDs are ASCII letters and digits (e.g. `kXXXXXXXXX11CNTRL`); anything
# else (markup, a URL, a key) is not one.
OAUTH_CLIENT_ID = Identifier(r"[A-Za-z0-9]{1,64}", "OAuth client ID")


def chart_version_tuple(version: str) -> tuple[int, int, int] | None:
    match = CHART_VERSION.pattern.fullmatch(version) if isinstance(version, str) else None
    if not match:
        return None
    return (int(match[1]), int(match[2]), int(match[3]))


# Values that are credentials, whatever key they were given under: Tailscale keys, AWS access
# key IDs, and AWS secret access keys (40 characters of base64 mixing cases and digits; DNS
# labels, tags, groups and ARNs can't look like that).
_SECRET_SHAPES = (
    ("a Tailscale key", re.compile(r"tskey-[A-Za-z0-9-]+", re.ASCII)),
    ("an AWS access key ID", re.compile(r"(AKIA|ASIA)[A-Z0-9]{16}", re.ASCII)),
    ("an AWS secret access key",
     re.compile(r"(?=.*[a-z])(?=.*[A-Z])(?=.*[0-9/+])[A-Za-z0-9/+]{40}", re.ASCII)),
)


def secret_shape(value: object) -> str:
    """What kind of credential `value` looks like ("" when it looks like none)."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    for kind, pattern in _SECRET_SHAPES:
        if pattern.fullmatch(text) or (kind == "a Tailscale key" and "tskey-" in text):
            return kind
    return ""


_SECRET_CANDIDATES = re.compile(
    r"tskey-[A-Za-z0-9-]+|(?<![A-Za-z0-9/+])(?:(?:AKIA|ASIA)[A-Z0-9]{16}|[A-Za-z0-9/+]{40})"
    r"(?![A-Za-z0-9/+])", re.ASCII)


def redact_secret_shapes(text: str) -> str:
    """`text` with every part that looks like a credential replaced by what it looks like."""
    def replace(match: re.Match[str]) -> str:
        kind = secret_shape(match[0])
        return f"[{kind}, not shown]" if kind else match[0]

    return _SECRET_CANDIDATES.sub(replace, text)
