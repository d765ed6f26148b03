"""At `pulumi preview`, ask Tailscale whether it would accept the policy file, and whether
writing it would delete rules added to the live policy since the base file was exported.

pulumi-tailscale does not validate the policy at preview (terraform-provider-tailscale#762),
so a policy Tailscale rejects, or whose `tests` fail, would otherwise only fail at `pulumi up`.
And `tailscale.Acl` overwrites the whole file on update, so a rule another team added in the
admin console after `policy.base` was exported would be deleted silently ("drift").

- Runs only during a preview (`pulumi.runtime.is_dry_run()`, which includes the preview
  step of `pulumi up`); an update writes the policy and Tailscale checks it then anyway.
- Never under the offline runner (`tailscale-cluster-access plan`), which says so with
  `offline()`: its mock runtime is a dry run too, and an offline plan opens no connection.
- Credentials go only to Tailscale's API or an origin the environment names (see
  core.tailscale_api); everything printed has user info and secret-shaped text removed.
- Without credentials it logs why it skipped and carries on.
- Tailscale's rejection, and live entries the write would drop or change, fail the preview
  together, with Tailscale's own messages and the lost entries listed.
- When Tailscale cannot be asked (network, outage, credentials without the
  `policy_file:read` scope) or the live policy does not parse, it warns and the preview
  continues: an outage of the check must not block reviewing a change.
- `TAILSCALE_CLUSTER_ACCESS_SKIP_DRIFT_CHECK=1` skips the drift check only (break-glass),
  with a warning.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import pulumi

from ..core.policy import hujson
from ..core.policy.drift import lost_items
from ..core.policy.ownership import UNNAMED, digest, records
from ..core.tailscale_api import (
    CONFIG_ENV,
    ApiError,
    ApiSettings,
    authorization_header,
    check_policy,
    fetch_policy,
    printable,
    settings_from,
)

SKIPPED = "Skipped the online policy check"
DRIFT_SKIPPED = "Skipped the drift check"
SKIP_DRIFT_ENV = "TAILSCALE_CLUSTER_ACCESS_SKIP_DRIFT_CHECK"
DRIFT_FIX = (
    "The live policy has entries the base file does not: write them into policy.base with "
    "`tailscale-cluster-access export-base --stack <organization>/<project>/<stack> --fetch "
    "--out <policy.base file>` (the live policy without the entries this stack wrote, so "
    "removing one of its rules later still revokes it), review, then preview again."
)
MAX_LISTED = 20

_TRUE = frozenset({"1", "true", "yes", "on"})

_offline_runs = 0


@contextmanager
def offline() -> Iterator[None]:
    """Within: the program runs under the offline runner, and asks nothing of Tailscale."""
    global _offline_runs
    _offline_runs += 1
    try:
        yield
    finally:
        _offline_runs -= 1


def _warn(text: str, resource: pulumi.Resource | None,
          settings: ApiSettings | None = None) -> None:
    pulumi.log.warn(printable(text, settings), resource=resource)


def _info(text: str, resource: pulumi.Resource | None,
          settings: ApiSettings | None = None) -> None:
    pulumi.log.info(printable(text, settings), resource=resource)


def _config_values() -> dict[str, str | None]:
    config = pulumi.Config("tailscale")
    return {key: config.get(key) for key in CONFIG_ENV}


def _listing(lines: list[str]) -> str:
    shown = [f"  - {line}" for line in lines[:MAX_LISTED]]
    if len(lines) > MAX_LISTED:
        shown.append(f"  - and {len(lines) - MAX_LISTED} more")
    return "\n".join(shown)


def _validation_failure(policy_text: str, settings: ApiSettings, authorization: str,
                        resource: pulumi.Resource | None) -> str:
    """Tailscale's verdict: "" when accepted or when it could not be had (warned)."""
    try:
        verdict = check_policy(policy_text, settings, authorization=authorization)
    except ApiError as error:
        _warn(f"{SKIPPED}: {error} The preview continues without Tailscale's verdict; "
              "`pulumi up` will still be refused if Tailscale rejects the policy.", resource,
              settings)
        return ""
    for warning in verdict.warnings:
        _warn(f"Tailscale warns about the tailnet policy: {warning}", resource, settings)
    if not verdict.problems:
        _info(f"Tailscale accepted the tailnet policy (tailnet {settings.tailnet!r}).",
              resource, settings)
        return ""
    return (f"Tailscale rejected the tailnet policy (checked with {settings.auth_description} "
            f"against tailnet {settings.tailnet!r}; nothing was written):\n"
            f"{_listing(verdict.problems)}\n"
            "Fix the policy (base file, fragments or stack config) and run `pulumi preview` "
            "again.")


def _drift_failure(policy_text: str, settings: ApiSettings, authorization: str,
                   resource: pulumi.Resource | None) -> str:
    """The live entries the write would lose: "" when none, or when the check could not run
    (warned)."""
    carry_on = ("The preview continues without the drift check; `pulumi up` overwrites the "
                "whole live policy.")
    try:
        live_policy = fetch_policy(settings, authorization=authorization)
    except ApiError as error:
        _warn(f"{DRIFT_SKIPPED}: {error} {carry_on}", resource, settings)
        return ""
    try:
        live = hujson.parse(live_policy.hujson, "the live tailnet policy").data
    except hujson.HujsonError as error:
        _warn(f"{DRIFT_SKIPPED}: the live policy could not be read: {error}. {carry_on}",
              resource, settings)
        return ""
    try:
        written = hujson.parse(policy_text, "the policy to write").data
    except hujson.HujsonError as error:
        # Tailscale's verdict reports this one; there is nothing to compare.
        _warn(f"{DRIFT_SKIPPED}: {error}", resource, settings)
        return ""
    # The writer is this stack: the text to write names it on its own marker lines.
    writer = next((name for name in records(policy_text) if name != UNNAMED), None)
    marked = records(live_policy.hujson)
    owned = marked.get(writer, set()) if writer is not None else set()
    others = {name: digests for name, digests in marked.items() if name != writer}
    own: list[str] = []
    lost: list[str] = []
    for item, text in lost_items(live, written):
        if digest(item) in owned:
            own.append(text)
            continue
        by = [name or "a writer its marker does not name" for name, digests in others.items()
              if digest(item) in digests]
        lost.append(f"{text} (written by {by[0]})" if by else text)
    if own:
        _info(f"The write replaces {len(own)} entr{'y' if len(own) == 1 else 'ies'} this "
              "stack wrote last time (its ownership marker lists them):\n"
              f"{_listing(own)}", resource, settings)
    if not lost:
        _info("The written policy keeps every entry of the live policy "
              f"(tailnet {settings.tailnet!r}).", resource, settings)
        return ""
    version = f", ETag {live_policy.etag}" if live_policy.etag else ""
    count = f"{len(lost)} entr{'y' if len(lost) == 1 else 'ies'}"
    return (f"Writing this policy would delete or change {count} of the live tailnet policy "
            f"(tailnet {settings.tailnet!r}{version}), e.g. rules added in the admin console "
            "after policy.base was exported (a change reads: live value -> value written):\n"
            f"{_listing(lost)}\n"
            f"{_other_writers(others, lost)}{DRIFT_FIX} Only to overwrite them on purpose, set "
            f"{SKIP_DRIFT_ENV}=1 for that run.")


def _other_writers(others: dict[str, set[str]], lost: list[str]) -> str:
    named = sorted(name for name in others if name and any(f"(written by {name})" in text
                                                            for text in lost))
    if not named:
        return ""
    return (f"Another stack writes this tailnet's policy too ({', '.join(named)}): each write "
            "deletes the other's entries. Write a tailnet's policy from one stack (several "
            "clusters: a fleet, docs/fleet.md, with policy.manage: false in the cluster "
            "stacks), or take that stack's entries into this one's base on purpose. ")


# Provider inputs (Pulumi config key -> tailscale.Provider output property).
PROVIDER_PROPERTIES = {"apiKey": "api_key", "oauthClientId": "oauth_client_id",
                       "oauthClientSecret": "oauth_client_secret", "tailnet": "tailnet",
                       "baseUrl": "base_url", "identityToken": "identity_token"}
_CREDENTIAL_KEYS = ("apiKey", "oauthClientId", "oauthClientSecret", "identityToken")


def _credentials_given(values: dict[str, str | None]) -> bool:
    return any(values.get(key) for key in _CREDENTIAL_KEYS) or any(
        os.environ.get(variable) for key in _CREDENTIAL_KEYS for variable in CONFIG_ENV[key])


def _online_preview() -> bool:
    """A preview (`pulumi preview`, the preview step of `pulumi up`) not run offline."""
    return not _offline_runs and pulumi.runtime.is_dry_run()


def check_policy_at_preview(policy_text: str, resource: pulumi.Resource | None,
                            provider: pulumi.ProviderResource | None = None) -> None:
    """Fail the preview when Tailscale rejects `policy_text` (the complete policy file) or
    when writing it would lose entries of the live policy; with the default provider's
    `tailscale:*` config and the environment as the settings. See `checked_policy` for an
    explicit provider."""
    if _online_preview():
        _check_with(policy_text, resource, _config_values())


def checked_policy(policy: pulumi.Input[str],
                   provider: pulumi.ProviderResource | None = None) -> pulumi.Input[str]:
    """`policy` (the complete policy file) once `check_policy_at_preview` passed it: the
    input to write it with, so that the write waits for the check and a failing check
    registers nothing. A plain string with the default provider is checked right away.

    With an explicit `tailscale.Provider` (the one the Acl is written with), its inputs are
    the settings (unset ones fall back to the environment, as the provider does); the
    default provider's `tailscale:*` config is then not used. Those inputs are Outputs, and
    a multi-language component host never awaits an `apply` nothing depends on: the
    returned Output carries the check and the provider inputs it read."""
    if not _online_preview():
        return policy
    if provider is None:
        if isinstance(policy, str):
            check_policy_at_preview(policy, None)
            return policy
        return pulumi.Output.all(policy).apply(lambda texts: _checked_with_config(texts[0]))
    known = {key: getattr(provider, attribute, None)
             for key, attribute in PROVIDER_PROPERTIES.items()}
    present = {key: value for key, value in known.items() if value is not None}
    # Unset provider inputs stay unknown in a preview: use the known ones only. The
    # provider joins the policy's dependencies through its URN (known in a preview); its
    # inputs, secrets among them, never reach the policy text.
    values = pulumi.Output.from_input(cast(Any, _known_values(present)))
    depends = provider.urn.apply(lambda _: "")

    def check(parts: list[Any]) -> str:
        text, found = str(parts[0]), parts[1]
        _check_with(text, None, {key: (found.get(key) or None) for key in CONFIG_ENV})
        return text

    return pulumi.Output.all(policy, values, depends).apply(check)


def _checked_with_config(text: str) -> str:
    check_policy_at_preview(text, None)
    return text


async def _known_values(outputs: dict[str, pulumi.Output[Any]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, output in outputs.items():
        if await output.is_known():
            values[key] = await output.future()
    return values


def _check_with(policy_text: str, resource: pulumi.Resource | None,
                values: dict[str, str | None]) -> None:
    settings, reason = settings_from(os.environ, values)
    if settings is None:
        # No credentials at all is a normal offline preview; credentials that cannot be used
        # are a mistake to point out.
        log = _warn if _credentials_given(values) else _info
        log(f"{SKIPPED}: {reason}.", resource)
        log(f"{DRIFT_SKIPPED}: {reason}.", resource)
        return
    try:
        authorization = authorization_header(settings)
    except ApiError as error:
        for skipped in (SKIPPED, DRIFT_SKIPPED):
            _warn(f"{skipped}: {error} The preview continues without it.", resource, settings)
        return
    failures = [_validation_failure(policy_text, settings, authorization, resource)]
    if os.environ.get(SKIP_DRIFT_ENV, "").strip().lower() in _TRUE:
        _warn(f"{DRIFT_SKIPPED}: {SKIP_DRIFT_ENV} is set. `pulumi up` will replace the live "
              "policy, deleting anything added to it since policy.base was exported.", resource)
    else:
        failures.append(_drift_failure(policy_text, settings, authorization, resource))
    failures = [failure for failure in failures if failure]
    if failures:
        raise pulumi.RunError(printable("\n\n".join(failures), settings))
