"""tlog-tiles paths and contents; proofs read from tiles match the in-memory tree."""

from __future__ import annotations

import random

import pytest

from signing.core import merkle, tiles
from signing.core.tiles import ENTRIES, TileKey


@pytest.mark.parametrize(("key", "path"), [
    (TileKey(0, 0, 256), "tile/0/000"), (TileKey(0, 1234067, 256), "tile/0/x001/x234/067"),
    (TileKey(1, 5, 17), "tile/1/005.p/17"), (TileKey(ENTRIES, 1000, 3), "tile/entries/x001/000.p/3"),
])
def test_paths(key: TileKey, path: str) -> None:
    assert key.path() == path
    assert tiles.parse_path(path) == key


@pytest.mark.parametrize("path", ["tile/0/1", "tile/0/x000/001", "tile/64/000", "tile/0/000.p/0",
                                  "tile/0/000.p/256", "tile/01/000",
                                  "tile/0/000.p/01", "tile/entries/000.p/", "tile/../000", "tile/0/x001"])
def test_bad_paths(path: str) -> None:
    with pytest.raises(tiles.TileError):
        tiles.parse_path(path)


def test_tiles_of_a_tree_of_70000_match_the_specification_example() -> None:
    keys = [k for k in tiles.tiles_of_tree(70_000) if k.level != ENTRIES]
    level0 = [k for k in keys if k.level == 0]
    assert sum(k.width == 256 for k in level0) == 273 and level0[-1] == TileKey(0, 273, 112)
    assert [k for k in keys if k.level == 1] == [TileKey(1, 0, 256), TileKey(1, 1, 17)]
    assert [k for k in keys if k.level == 2] == [TileKey(2, 0, 1)]
    assert [k for k in tiles.tiles_of_tree(256) if k.level != ENTRIES] == [TileKey(0, 0, 256), TileKey(1, 0, 1)]


def test_bundle_round_trip_and_truncation() -> None:
    entries = [b"", b"a", b"x" * 300]
    data = tiles.encode_bundle(entries)
    assert tiles.decode_bundle(data) == entries
    with pytest.raises(tiles.TileError):
        tiles.decode_bundle(data[:-1])
    with pytest.raises(tiles.TileError):
        tiles.encode_bundle([b"x" * 70_000])


def test_integrating_batches_gives_the_tree_roots_and_proofs_in_log_reads() -> None:
    rng = random.Random(12)  # noqa: S311 - reproducible test data
    store: dict[TileKey, bytes] = {}
    memory = merkle.MemoryTree()
    size = 0
    for batch in [1, 2, 253, 1, 255, 700, 1, 65_000, 300]:
        entries = [rng.randbytes(rng.randrange(0, 40)) for _ in range(batch)]
        new = tiles.integrate(size, store.__getitem__, entries)
        assert not set(new) & {k for k in store if k.width == 256}, "a full tile was rewritten"
        store.update(new)
        for entry in entries:
            memory.append(entry)
        size += batch
        assert set(tiles.tiles_of_tree(size)) <= set(store)
        reader = tiles.TileHashes(size, store.__getitem__)
        assert merkle.root(reader.stored, size) == memory.root()
        for index in {0, size - 1, rng.randrange(size)}:
            reader = tiles.TileHashes(size, store.__getitem__)
            assert merkle.inclusion_proof(reader.stored, index, size) == memory.inclusion_proof(index)
            assert reader.reads <= 2 * (size.bit_length() // 8 + 2)
        old = rng.randrange(1, size + 1)
        reader = tiles.TileHashes(size, store.__getitem__)
        assert merkle.consistency_proof(reader.stored, old, size) == memory.consistency_proof(old)
    bundle = store[TileKey(ENTRIES, 0, 256)]
    assert [merkle.leaf_hash(e) for e in tiles.decode_bundle(bundle)] == memory.levels[0][:256]


def test_a_tile_of_the_wrong_length_is_refused() -> None:
    store = tiles.integrate(0, lambda key: b"", [b"a", b"b", b"c"])
    store[TileKey(0, 0, 3)] = store[TileKey(0, 0, 3)][:-1]
    with pytest.raises(tiles.TileError):
        merkle.root(tiles.TileHashes(3, store.__getitem__).stored, 3)
