"""The app capabilities a source holds on a destination, from the policy's grants."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .match import _match_selector, _match_source, principal
from .model import (
    _COMPANION_CAPS,
    AppGrant,
    Capabilities,
    OriginOf,
    PolicyModel,
    Principal,
    Tri,
    _all,
    _any,
    _as_model,
)

if TYPE_CHECKING:
    from .index import PairIndex, Query


def capabilities(
    policy: Mapping[str, Any] | PolicyModel,
    src: str,
    dst: str,
    *,
    origin_of: OriginOf | None = None,
) -> Capabilities:
    """The app capabilities `src` (one identity) holds on `dst` (a tag, user, host or IP):
    every grant whose src and dst cover them adds its values, concatenated per capability
    name (Tailscale's capability grants, headscale testdata grant_results). A grant that
    may apply (an address range, a posture, `via`) makes the answer undecided."""
    model = _as_model(policy, origin_of)
    return _capabilities(model, principal(src, model), principal(dst, model))


def _capabilities(model: PolicyModel, who: Principal, where: Principal, *,
                  indexed: bool = True) -> Capabilities:
    """`indexed=False`: match every grant selector by selector (the plain scan)."""
    values: dict[str, list[Any]] = {}
    matched: list[AppGrant] = []
    unsure: list[str] = []
    index = model.index.grants if indexed else None
    queries = None if index is None else (index.query(who), index.query(where))
    found = None if index is None or queries is None else _grant_candidates(
        model, index, *queries)

    def applies(position: int, forward: bool) -> Tri:
        grant = model.app_grants[position]
        source, target = (who, where) if forward else (where, who)
        if index is None or queries is None:
            return _grant_match(grant, source, target, model, [])
        first, second = queries if forward else queries[::-1]
        return _indexed_grant_match(index, position, first, second, model)

    for position in range(len(model.app_grants)) if found is None else found:
        grant = model.app_grants[position]
        result = applies(position, True)
        if result is True:
            matched.append(grant)
            for name, items in grant.app.items():
                values.setdefault(name, []).extend(items)
        elif result is None:
            reasons: list[str] = []
            _grant_match(grant, who, where, model, reasons)
            unsure += [f"{grant.label}: {reason}" for reason in dict.fromkeys(reasons)]
        companions = [_COMPANION_CAPS[name] for name in grant.app if name in _COMPANION_CAPS]
        if companions and applies(position, False) is True:
            for name in companions:
                values.setdefault(name, [])
    return Capabilities({k: tuple(v) for k, v in values.items()}, not unsure, tuple(matched),
                        tuple(unsure))


def _grant_candidates(model: PolicyModel, index: PairIndex, who: Query,
                      where: Query) -> list[int] | None:
    """The grants that may give `who` capabilities on `where`, or (those with companion
    capabilities) `where` on `who`; None: any may."""
    forward = index.candidates(who, where)
    with_companions = model.index.companion_grants
    backward = index.candidates(where, who) if with_companions else []
    if forward is None or backward is None:
        return None
    return sorted(set(forward).union(set(backward).intersection(with_companions)))


def _grant_match(grant: AppGrant, who: Principal, where: Principal, model: PolicyModel,
                 reasons: list[str]) -> Tri:
    source = _any([_match_source(s, who, model, reasons) for s in grant.src])
    target = _any([_match_selector(d, where, model, reasons, who) for d in grant.dst])
    conditional: Tri = True
    if grant.src_posture or grant.via:
        reasons.append("the grant has a posture or via, which the query does not decide")
        conditional = None
    return _all([source, target, conditional])


def _indexed_grant_match(index: PairIndex, position: int, who: Query, where: Query,
                         model: PolicyModel) -> Tri:
    """`_grant_match` (without reasons) through the grant's selector index."""
    grant = model.app_grants[position]
    source = index.rule_sources[position].tri(
        who, None, lambda p: _match_source(grant.src[p], who.principal, model, []))
    target = index.rule_targets[position].tri(
        where, None, lambda p: _match_selector(grant.dst[p], where.principal, model, [],
                                               who.principal))
    return _all([source, target, None if grant.src_posture or grant.via else True])
