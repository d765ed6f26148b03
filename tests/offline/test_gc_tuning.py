"""The plan's collector settings are put back however the block ends."""

import gc

import pytest
from tailscale_cluster_access.offline.gc_tuning import fewer_collections


def test_settings_are_restored_after_nested_blocks_and_errors():
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] >= 50_000
        with pytest.raises(RuntimeError), fewer_collections():
            raise RuntimeError("program failed")
        # The inner block ended: its survivors stay frozen until the outer block ends.
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] >= 50_000
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cycles_made_inside_are_collected_after():
    class Node:
        pass

    with fewer_collections():
        node = Node()
        node.self = node  # type: ignore[attr-defined]
        del node
    gc.collect()
    assert not [o for o in gc.get_objects() if type(o).__name__ == "Node"]
