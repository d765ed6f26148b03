"""At `pulumi preview`, ask Tailscale whether it would accept the policy file.

pulumi-tailscale does not validate the policy at preview (terraform-provider-tailscale#762),
so a policy Tailscale rejects, or whose `tests` fail, would otherwise only fail at `pulumi up`.

- Runs only during a preview (`pulumi.runtime.is_dry_run()`); `pulumi up` writes the policy
  and Tailscale checks it then anyway.
- Without credentials it logs why it skipped and carries on.
- Tailscale's rejection fails the preview with Tailscale's own messages.
- When Tailscale cannot be asked (network, outage, credentials without the
  `policy_file:read` scope) it warns and the preview continues: an outage of the check must
  not block reviewing a change, and `pulumi up` still gets Tailscale's verdict.
"""

import os

import pulumi

from .tailscale_api import CONFIG_ENV, ApiError, check_policy, settings_from

SKIPPED = "Skipped the online policy check"


def _config_values() -> dict[str, str | None]:
    config = pulumi.Config("tailscale")
    return {key: config.get(key) for key in CONFIG_ENV}


def check_policy_at_preview(policy_text: str, resource: pulumi.Resource | None) -> None:
    """Fail the preview when Tailscale rejects `policy_text` (the complete policy file)."""
    if not pulumi.runtime.is_dry_run():
        return
    settings, reason = settings_from(os.environ, _config_values())
    if settings is None:
        pulumi.log.info(f"{SKIPPED}: {reason}.", resource=resource)
        return
    try:
        verdict = check_policy(policy_text, settings)
    except ApiError as error:
        pulumi.log.warn(f"{SKIPPED}: {error} The preview continues without Tailscale's "
                        "verdict; `pulumi up` will still be refused if Tailscale rejects the "
                        "policy.", resource=resource)
        return
    for warning in verdict.warnings:
        pulumi.log.warn(f"Tailscale warns about the tailnet policy: {warning}", resource=resource)
    if verdict.problems:
        listing = "\n".join(f"  - {problem}" for problem in verdict.problems)
        raise pulumi.RunError(
            f"Tailscale rejected the tailnet policy (checked with {settings.auth_description} "
            f"against tailnet {settings.tailnet!r}; nothing was written):\n{listing}\n"
            "Fix the policy (base file, fragments or stack config) and run `pulumi preview` "
            "again.")
    pulumi.log.info(f"Tailscale accepted the tailnet policy (tailnet {settings.tailnet!r}).",
                    resource=resource)
