"""C2SP ``tlog-tiles``: tile paths, tile contents, entry bundles, and proofs read from tiles.

A tile at level ``L`` holds up to 256 consecutive hashes of height ``8 * L``; a full one is 8,192 bytes,
the rightmost ones of a tree are partial (``.p/<W>``). Entry bundles (``tile/entries/<N>``) hold the
entries of the level-0 tile of the same index, each prefixed by its length as a big-endian uint16.
The level ``ENTRIES`` (-1) stands for entry bundles in ``TileKey``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .merkle import HASH_BYTES

WIDTH = 256
HEIGHT = 8
FULL_BYTES = WIDTH * HASH_BYTES
ENTRIES = -1
MAX_ENTRY_BYTES = 0xFFFF
_INDEX = re.compile(r"(?:x[0-9]{3}/)*[0-9]{3}")
_PATH = re.compile(r"tile/(entries|0|[1-9][0-9]?)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?")


class TileError(ValueError):
    """A malformed tile path or tile, or a tile the tree does not have."""


@dataclass(frozen=True, order=True)
class TileKey:
    level: int  # ENTRIES for an entry bundle
    index: int
    width: int  # 1..256; 256 is a full tile

    def path(self) -> str:
        level = "entries" if self.level == ENTRIES else str(self.level)
        suffix = "" if self.width == WIDTH else f".p/{self.width}"
        return f"tile/{level}/{encode_index(self.index)}{suffix}"


def encode_index(index: int) -> str:
    """1234067 -> ``x001/x234/067``."""
    if index < 0:
        raise TileError("negative tile index")
    groups = []
    while True:
        index, group = divmod(index, 1000)
        groups.append(f"{group:03d}")
        if index == 0:
            break
    return "/".join(["x" + g for g in reversed(groups[1:])] + [groups[0]])


def parse_path(path: str) -> TileKey:
    """``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``, in its one canonical spelling."""
    match = _PATH.fullmatch(path)
    if not match:
        raise TileError("not a tile path")
    level = ENTRIES if match.group(1) == "entries" else int(match.group(1))
    if level > 63:
        raise TileError("tile level out of range")
    index = int("".join(part.lstrip("x") for part in match.group(2).split("/")))
    width = int(match.group(3) or WIDTH)
    if width > 255 and match.group(3):
        raise TileError("a partial tile has 1 to 255 hashes")
    key = TileKey(level, index, width)
    if key.path() != path:  # e.g. x000/001 for 1: one name per tile
        raise TileError("non-canonical tile path")
    return key


def width_in_tree(level: int, index: int, size: int) -> int:
    """How many hashes tile (level, index) holds in a tree of ``size`` leaves (0: it does not exist)."""
    hashes = size >> (HEIGHT * max(level, 0))
    if (index + 1) * WIDTH <= hashes:
        return WIDTH
    return hashes % WIDTH if index == hashes // WIDTH else 0


def tiles_of_tree(size: int) -> list[TileKey]:
    """Every tile of a tree of ``size`` leaves, entry bundles included (full ones and the partial ones)."""
    keys = []
    level = 0
    while size >> (HEIGHT * level):
        hashes = size >> (HEIGHT * level)
        for index in range((hashes + WIDTH - 1) // WIDTH):
            width = width_in_tree(level, index, size)
            keys.append(TileKey(level, index, width))
            if level == 0:
                keys.append(TileKey(ENTRIES, index, width))
        level += 1
    return keys


def tile_root(data: bytes) -> bytes:
    """The hash of the perfect subtree whose leaves are the (power-of-two many) hashes in ``data``."""
    sha256, pair = hashlib.sha256, 2 * HASH_BYTES
    while len(data) > HASH_BYTES:  # one level up: each 64-byte pair becomes its node hash
        data = b"".join([sha256(b"\x01" + data[i : i + pair]).digest() for i in range(0, len(data), pair)])
    return data


def encode_bundle(entries: Iterable[bytes]) -> bytes:
    parts = []
    for entry in entries:
        if len(entry) > MAX_ENTRY_BYTES:
            raise TileError("a log entry is longer than 65,535 bytes")
        parts.append(len(entry).to_bytes(2, "big") + entry)
    return b"".join(parts)


def decode_bundle(data: bytes) -> list[bytes]:
    entries, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise TileError("truncated entry bundle")
        length = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + length > len(data):
            raise TileError("truncated entry bundle")
        entries.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    return entries


ReadTile = Callable[[TileKey], bytes]


def integrate(size: int, read: ReadTile, entries: Sequence[bytes]) -> dict[TileKey, bytes]:
    """The tiles (and entry bundles) that appending ``entries`` to a tree of ``size`` leaves creates.

    Reads only the rightmost partial tile of each level of the old tree; a full tile is never rewritten.
    """
    out: dict[TileKey, bytes] = {}
    old_entries = size % WIDTH
    bundle = read(TileKey(ENTRIES, size // WIDTH, old_entries)) if old_entries else b""
    pending = decode_bundle(bundle) + list(entries)
    for number, start in enumerate(range(0, len(pending), WIDTH)):
        batch = pending[start : start + WIDTH]
        out[TileKey(ENTRIES, size // WIDTH + number, len(batch))] = encode_bundle(batch)
    sha256 = hashlib.sha256
    new_hashes = b"".join([sha256(b"\x00" + entry).digest() for entry in entries])  # leaf_hash, inlined
    level = 0
    while new_hashes:
        old = size >> (HEIGHT * level)
        first, partial = divmod(old, WIDTH)
        data = (read(TileKey(level, first, partial)) if partial else b"") + new_hashes
        completed = []
        for offset in range(0, len(data), FULL_BYTES):
            chunk = data[offset : offset + FULL_BYTES]
            out[TileKey(level, first + offset // FULL_BYTES, len(chunk) // HASH_BYTES)] = chunk
            if len(chunk) == FULL_BYTES:
                completed.append(tile_root(chunk))
        new_hashes = b"".join(completed)
        level += 1
    return out


class TileHashes:
    """``stored(height, index)`` for ``merkle`` proofs, read from the tiles of a tree of ``size`` leaves.

    Each hash costs at most one tile read (cached), so a proof reads ``O(log n)`` tiles.
    """

    def __init__(self, size: int, read: ReadTile) -> None:
        self.size = size
        self._read = read
        self._cache: dict[TileKey, bytes] = {}
        self.reads = 0

    def tile(self, key: TileKey) -> bytes:
        if key not in self._cache:
            self.reads += 1
            data = self._read(key)
            if len(data) != key.width * HASH_BYTES:
                raise TileError(f"{key.path()} has the wrong length")
            self._cache[key] = data
        return self._cache[key]

    def stored(self, height: int, index: int) -> bytes:
        level, sub = divmod(height, HEIGHT)
        first = index << sub
        tile_index, offset = divmod(first, WIDTH)
        width = width_in_tree(level, tile_index, self.size)
        if width < offset + (1 << sub):
            raise TileError(f"no hash at height {height}, index {index} in a tree of size {self.size}")
        data = self.tile(TileKey(level, tile_index, width))
        return tile_root(data[offset * HASH_BYTES : (offset + (1 << sub)) * HASH_BYTES])
