"""Offline evaluation of a tailnet policy's network rules and of its `tests` section.

Tailscale rejects every write of a policy whose `tests` fail, and `pulumi-tailscale` only finds
out at `pulumi up`. This module answers the same questions locally: which rules let a source
reach a destination port (`reachable`), which app capabilities a source holds on a
destination (`capabilities`), whether the policy's own tests pass (`run_tests`), who
can reach a tag on a port (`who_reaches`), and which `acls` syntax a policy uses
(`acls_style`, `check_syntax_mix`).

Model. Network access comes from `acls` (new `src`/`dst` and legacy `users`/`ports` syntax)
and from `grants` that have `ip`; a grant with only `app` gives no network access. Access is
the union of all rules. Keys are matched without regard to case, as Tailscale's Go parser
does (`"ACLs"`, `"Src"`). Each rule keeps its section, index and an `origin` label from the
caller's `origin_of(section, index)` callback, so a failure can say whose rule it was.

Three-valued answers. Every match is True, False or undecidable (None). A rule that allows
wins; otherwise any undecidable rule makes the whole answer undecidable, never a silent pass
or fail. Undecidable are:

- role autogroups (`autogroup:admin`, `:owner`, `:it-admin`, `:network-admin`,
  `:billing-admin`, `:auditor`) and `autogroup:shared` for a user: roles are not in the policy;
- IP addresses and CIDRs (and `hosts` aliases) against users or tags, when the range overlaps
  the tailnet's address ranges: which device holds which address is not in the policy
  (decidable when the test's src/dst is an address too, and for ranges outside the tailnet);
- `ipset:`, `svc:` and other selectors this module does not know; undefined groups;
- grants with `via` (they depend on routing);
- posture conditions with an operator or value this module does not parse, ordering
  comparisons of non-version strings, and undefined postures.

Postures: a rule's `srcPosture` (or, for a rule without one, `defaultSrcPosture`) is met when
the source satisfies at least one listed posture, and a posture holds when all its conditions
hold (kb/1288 device posture: postures are lists of conditions; srcPosture lists alternatives).
A condition on an attribute the source does not have is false.

Limits that are assumptions, not decisions: a test without `proto` is evaluated for TCP
(UNVERIFIED against the docs, which leave the default implicit); a `group:` test source
stands for "a member of the group" (a rule matches when it names the group, or matches any
member); `*` as a destination includes `autogroup:internet`, as the default allow-all policy
allows exit nodes. SSH rules and `sshTests` are not evaluated.
"""

from .checks import acls_style, check_syntax_mix, run_tests, who_reaches
from .grants import capabilities
from .match import principal, reachable
from .model import (
    AclsStyle,
    AppGrant,
    Capabilities,
    Decision,
    FailedAssertion,
    Finding,
    NetRule,
    PolicyModel,
    Principal,
    Reach,
    Target,
    TestReport,
    Verdict,
    build_model,
)

__all__ = [
    "AclsStyle",
    "AppGrant",
    "Capabilities",
    "Decision",
    "FailedAssertion",
    "Finding",
    "NetRule",
    "PolicyModel",
    "Principal",
    "Reach",
    "Target",
    "TestReport",
    "Verdict",
    "acls_style",
    "build_model",
    "capabilities",
    "check_syntax_mix",
    "principal",
    "reachable",
    "run_tests",
    "who_reaches",
]
