"""Break-glass: the way in while the recorder is down, checked on the merged policy.

The API server proxy unions the `tailscale.com/cap/kubernetes` values of every grant that
matches a caller and fails closed when any of them sets `enforceRecorder` (operator 1.94.1 and
later, `k8s-operator/api-proxy/proxy.go` `determineRecorderConfig`). So the break-glass grant
alone proves nothing: each break-glass source (and, for a group, each member) is asked what the
merged policy gives it on the endpoint (`capabilities`), postures set aside because a device
may meet any of them, and the union must not carry `enforceRecorder`, nor may any grant the
offline evaluator cannot decide for it (an address range, a `via`).
"""

from collections.abc import Iterator, Mapping
from typing import Any

from ..chart import KUBERNETES_CAPABILITY
from ..problems import Problem
from ..spec import ClusterAccessSpec
from .access import STACK_ORIGIN
from .effective_access import OriginLabels, without_postures
from .evaluate import AppGrant, PolicyModel, capabilities

FIX = ("give breakGlass an identity no enforcing grant matches (a dedicated on-call group or "
       "tag, not `*` or `autogroup:member`), or narrow the sources of the grants named.")


def _enforces(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("enforceRecorder") is True


def _who(src: str, model: PolicyModel) -> Iterator[str]:
    """The source, and a group's members: each gets the grants of every group it is in."""
    yield src
    yield from model.groups.get(src, ())


def _label(labels: OriginLabels, grant: AppGrant) -> str:
    label = labels.of(grant.origin, "grants", grant.index)
    return "this stack's grant" if label == STACK_ORIGIN else label


def break_glass_problems(spec: ClusterAccessSpec, model: PolicyModel) -> list[Problem]:
    """Every break-glass source whose unioned capability on the endpoint enforces recording,
    naming the grants that do."""
    if spec.break_glass is None:
        return []
    any_posture = without_postures(model)
    labels = OriginLabels(spec.cluster or "stack")
    problems: list[Problem] = []
    for index, src in enumerate(spec.break_glass.src):
        for who in dict.fromkeys(_who(src, model)):
            found = capabilities(any_posture, who, spec.endpoint_tag)
            # A grant the offline evaluator cannot decide (an address range, a `via`) may
            # apply, and then it is unioned in too.
            maybe = {grant.label for grant in any_posture.app_grants
                     if any(reason.startswith(f"{grant.label}: ") for reason in found.reasons)}
            enforcing: list[AppGrant] = [
                grant for grant in any_posture.app_grants
                if (grant in found.grants or grant.label in maybe)
                and any(_enforces(value) for value in grant.app.get(KUBERNETES_CAPABILITY, ()))]
            if not enforcing:
                continue
            named = "; ".join(f"{_label(labels, grant)} for {', '.join(grant.src)}"
                              for grant in enforcing)
            member = "" if who == src else f" (its member {who})"
            problems.append(Problem(
                f"breakGlass.src[{index}]",
                f"{src}{member} also matches grants that enforce recording ({named}): the "
                "proxy unions every matching grant, so break-glass would fail closed with "
                "them while the recorder is down.", FIX))
            break
    return problems
