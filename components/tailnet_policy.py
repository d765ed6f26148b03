"""TailnetPolicy: merge policy fragments into a base policy and write the result."""

from collections.abc import Sequence
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_tailscale as tailscale

from .errors import InvalidArgs
from .policy import hujson
from .policy.merge import MergeError, merge_policies

ADOPT_HELP = (
    "Tailscale refused to overwrite the tailnet's existing policy file (the provider "
    "demands an import or overwrite_existing_content before the first write). Nothing was "
    "changed. To adopt the tailnet without losing other teams' rules: export the live policy "
    "into the base file (admin console > Access controls, or `tailscale.get_acl().hujson`), "
    "set policy.base to it and policy.adoptExisting: true, run `pulumi preview`, check the "
    "policy diff, then `pulumi up`."
)


class TailnetPolicyArgs(TypedDict):
    fragments: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Policy fragments (HuJSON text) to add to the base policy, e.g. one per cluster."""
    base: NotRequired[str]
    """HuJSON text of the rest of the tailnet policy (other teams' rules); kept unchanged."""
    adopt_existing: NotRequired[bool]
    """Overwrite a tailnet policy that Pulumi did not create yet. Export it into `base` first."""


def render_policy(base_text: str, fragments: Sequence[tuple[str, str]],
                  base_source: str = "base policy") -> str:
    """Merge HuJSON fragments into the base policy and render it canonically."""
    base = hujson.parse(base_text, base_source) if base_text.strip() else None
    parsed = [(name, hujson.parse(text, name).data) for name, text in fragments]
    merged = merge_policies(base.data if base else {}, parsed)
    if base is None:
        return hujson.dumps(merged)
    return hujson.dumps(merged, comments=base.comments, header=base.header, trailer=base.trailer)


def _is_precondition_failure(error: BaseException) -> bool:
    text = str(error).lower()
    return "412" in text or "precondition" in text or "overwrite_existing_content" in text


class TailnetPolicy(pulumi.ComponentResource):
    """The tailnet policy file: a base policy plus generated fragments, written with
    `tailscale.Acl`. Destroying the stack never resets the tailnet's policy."""

    policy: pulumi.Output[str]
    """The complete policy file that is written (HuJSON)."""
    acl_id: pulumi.Output[str]
    """ID of the `tailscale.Acl` resource."""

    def __init__(self, name: str, args: TailnetPolicyArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        base_text = args.get("base", "")
        fragments = args["fragments"]
        rendered: pulumi.Input[str]
        if isinstance(fragments, (list, tuple)) and all(isinstance(f, str) for f in fragments):
            # Plain input: fail before anything is registered.
            try:
                rendered = render_policy(base_text, [(f"fragment {i}", text)
                                                     for i, text in enumerate(fragments)])
            except (hujson.HujsonError, MergeError) as error:
                raise InvalidArgs(f"TailnetPolicy {name!r}: {error}") from None
        else:
            rendered = pulumi.Output.from_input(fragments).apply(
                lambda texts: render_policy(base_text, [(f"fragment {i}", text)
                                                        for i, text in enumerate(texts)]))

        super().__init__("tailscale-cluster-access:index:TailnetPolicy", name, None, opts)
        acl = tailscale.Acl(
            f"{name}-acl",
            acl=rendered,
            overwrite_existing_content=bool(args.get("adopt_existing", False)),
            reset_acl_on_destroy=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.acl = acl
        self.policy = pulumi.Output.from_input(rendered)
        self.acl_id = _explain_adoption_failure(acl)
        self.register_outputs({"policy": self.policy, "acl_id": self.acl_id})


def _explain_adoption_failure(acl: tailscale.Acl) -> pulumi.Output[str]:
    """Turn the provider's refusal to overwrite an unadopted policy into the fix."""

    async def checked_id() -> Any:
        try:
            return await acl.id.future()
        except Exception as error:
            if _is_precondition_failure(error):
                pulumi.log.error(ADOPT_HELP, resource=acl)
                raise pulumi.RunError(ADOPT_HELP) from None
            raise

    return pulumi.Output(acl.id.resources(), checked_id(), acl.id.is_known(), acl.id.is_secret())
