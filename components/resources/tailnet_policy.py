"""TailnetPolicy: merge policy fragments into a base policy and write the result."""

from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_tailscale as tailscale
from pulumi.resource_hooks import ErrorHook, ErrorHookArgs, ResourceHookBinding
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import monitor_supports_feature

from ..core.parts import PolicyWrite
from ..core.policy import hujson
from ..core.policy.compose import compose
from ..core.policy.ownership import with_writer
from ..core.problems import Problem
from .errors import raise_for_problems, read_args
from .kube import child_options
from .preview_check import checked_policy

ADOPT_HELP = (
    "Tailscale refused to overwrite the tailnet's existing policy file (the provider "
    "demands an import or overwrite_existing_content before the first write). Nothing was "
    "changed. To adopt the tailnet without losing other teams' rules: export the live policy "
    "into the base file (admin console > Access controls, or `tailscale.get_acl().hujson`), "
    "set policy.base to it and policy.adoptExisting: true, run `pulumi preview`, check the "
    "policy diff, then `pulumi up`."
)


OFFLINE_ORGANIZATION = "organization"
"""The organization when the program is told none: what the DIY backends name theirs, and
what the SDK's mocks (the offline plan) leave unset."""


def policy_writer() -> str:
    """This stack in full, `<organization>/<project>/<stack>`: the writer its ownership
    marker names."""
    organization = pulumi.get_organization() or OFFLINE_ORGANIZATION
    return f"{organization}/{pulumi.get_project()}/{pulumi.get_stack()}"


class TailnetPolicyArgs(TypedDict):
    fragments: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Policy fragments (HuJSON text) to add to the base policy, e.g. one per cluster."""
    base: str
    """HuJSON text of the rest of the tailnet policy (other teams' rules); kept unchanged. Required:
    `"{}"` replaces the whole policy on purpose."""
    adopt_existing: NotRequired[bool]
    """Overwrite a tailnet policy that Pulumi did not create yet. Export it into `base` first."""
    fragment_names: NotRequired[list[str]]
    """A name per fragment (e.g. the cluster or stack), for conflict messages; default `fragment
    <i>`."""


def parse_fragments(fragments: Sequence[tuple[str, str]]
                    ) -> tuple[list[tuple[str, dict[str, Any]]], list[Problem]]:
    """The HuJSON fragments' data; a problem names each fragment that does not parse."""
    parsed: list[tuple[str, dict[str, Any]]] = []
    problems: list[Problem] = []
    for index, (fragment_name, text) in enumerate(fragments):
        try:
            parsed.append((fragment_name, hujson.parse(text, fragment_name).data))
        except hujson.HujsonError as error:
            problems.append(Problem(f"fragments[{index}]", f"is not valid HuJSON: {error}"))
    return parsed, problems


def _is_precondition_failure(error: str) -> bool:
    text = error.lower()
    return "412" in text or "precondition" in text or "overwrite_existing_content" in text


def explain_adoption_failure(args: ErrorHookArgs) -> bool:
    """Error hook on the Acl: when Tailscale refuses to overwrite an unadopted policy, say how
    to adopt it. Never retries: the same write would be refused again."""
    if args.failed_operation == "create" and any(map(_is_precondition_failure, args.errors)):
        pulumi.log.error(ADOPT_HELP)
    return False


def _adoption_hooks(name: str) -> ResourceHookBinding | None:
    """The explaining error hook, where the Pulumi CLI supports error hooks;
    older CLIs refuse a resource that carries one, so it is left out there."""
    if not monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_ERROR_HOOKS):
        return None
    return ResourceHookBinding(
        on_error=[ErrorHook(f"{name}-explain-adoption", explain_adoption_failure)])


class TailnetPolicy(pulumi.ComponentResource):
    """The tailnet policy file: a base policy plus generated fragments, written with
    `tailscale.Acl`. Destroying the stack never resets the tailnet's policy."""

    policy: pulumi.Output[str]
    """The complete policy file that is written (HuJSON)."""
    acl_id: pulumi.Output[str]
    """ID of the `tailscale.Acl` resource."""

    def __init__(self, name: str, args: TailnetPolicyArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        settings, inputs = read_args(PolicyWrite, args, "TailnetPolicy")
        base_text = settings.base
        fragments = inputs.get("fragments")
        names = list(settings.fragment_names)

        def named(texts: Sequence[str]) -> list[tuple[str, str]]:
            return [(names[i] if i < len(names) else f"fragment {i}", text)
                    for i, text in enumerate(texts)]

        def render_and_check(texts: Sequence[pulumi.Input[str]]) -> str:
            # Plain strings here: given as such, or resolved by apply.
            parsed, problems = parse_fragments(named([str(f) for f in texts]))
            raise_for_problems(problems, "TailnetPolicy")
            composed = compose(base_text, parsed, base_source="base", key="fragments")
            raise_for_problems(composed.problems, "TailnetPolicy")
            for warning in composed.warnings + composed.format_notes:
                pulumi.log.warn(f"TailnetPolicy {name!r}: {warning}")
            return composed.text

        rendered: pulumi.Input[str]
        if isinstance(fragments, (list, tuple)) and all(isinstance(f, str) for f in fragments):
            # Plain input: fail before anything is registered.
            rendered = render_and_check(fragments)
        else:
            rendered = pulumi.Output.from_input(fragments).apply(render_and_check)

        self._create(name, rendered, settings.adopt_existing, opts)

    @classmethod
    def from_rendered(cls, name: str, policy: pulumi.Input[str], *, adopt_existing: bool = False,
                      opts: pulumi.ResourceOptions | None = None) -> "TailnetPolicy":
        """The component for a policy already composed and verified (`Composed.text`, as
        `plan_cluster` and `plan_fleet` make it)."""
        component = cls.__new__(cls)
        component._create(name, policy, adopt_existing, opts)
        return component

    def _create(self, name: str, rendered: pulumi.Input[str], adopt_existing: bool,
                opts: pulumi.ResourceOptions | None) -> None:
        super().__init__("tailscale-cluster-access:index:TailnetPolicy", name, None, opts)
        # The provider the Acl is written with (opts.provider/providers here or on a parent).
        provider = self.get_provider("tailscale:index/acl:Acl")
        writer = policy_writer()
        rendered = (with_writer(rendered, writer) if isinstance(rendered, str)
                    else pulumi.Output.all(rendered).apply(
                        lambda texts: with_writer(texts[0], writer)))

        acl = tailscale.Acl(
            f"{name}-acl",
            # The Acl waits for the preview check; a failing check registers no Acl.
            acl=checked_policy(rendered, provider),
            overwrite_existing_content=adopt_existing,
            reset_acl_on_destroy=False,
            opts=child_options(self, opts, hooks=_adoption_hooks(name)),
        )
        self.acl = acl
        self.policy = pulumi.Output.from_input(rendered)
        self.acl_id = acl.id
        self.register_outputs({"policy": self.policy, "acl_id": self.acl_id})
