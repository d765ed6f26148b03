"""Garbage-collector settings for a plan: a short process that allocates a lot and frees
little until it ends."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Allocations between young collections during a plan (CPython's default is 700).
_PLAN_GC_THRESHOLD = 50_000
_gc_depth = 0


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run a block with the cyclic collector mostly out of the way.

    The SDK allocates many short-lived objects per resource (Outputs, futures, tasks), and
    with the default thresholds the collector rescans everything alive (modules, config,
    the plan, the recorded run) over and over: a third of a 1,000-resource run. Objects
    alive on entry are left out of collections (gc.freeze) and young collections run less
    often. Nested blocks also freeze what survived them, so the outer block does not rescan
    a finished run; only the outermost block hands frozen objects back to the collector.
    """
    global _gc_depth
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], _PLAN_GC_THRESHOLD), *threshold[1:])
    _gc_depth += 1
    try:
        yield
    finally:
        _gc_depth -= 1
        if _gc_depth:
            gc.freeze()
        else:
            gc.unfreeze()
        gc.set_threshold(*threshold)
