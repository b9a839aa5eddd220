"""An endorsement export's zip read in parts, each by the process that checks it (``signing.verify --jobs N``).

The parent reads only the end records and the manifest (``find``: by its name, for the facts the statements must
name) and walks the central directory once, cutting it into runs of entries (``Part``): one run per
``ed25519_pool.CHUNK`` endorsements, cut before an endorsement's ``.json`` only (so that each statement's signature,
its key when first used, and its withdrawal stay in its run), and the files after the statements (``VERIFY.txt``,
the platform key, ``SHA256SUMS``, the manifest, the log) in runs of their own. Each run of statements goes to a
worker as soon as it is cut (``Reader``). Each worker maps the file and reads its runs' members straight from their
local headers, checking each entry as ``strict_zip`` does on its fast path — the same flags, method, CRC-32, sizes
and name in the local header and the central directory, members in order without overlapping and before the
directory, a deflate stream that ends exactly at the member's end with its declared size, no extra field — and then
checks the files (``ed25519_pool.check_files``). The parent reads the runs without statements itself, meanwhile.

Anything else raises ``Fallback``: the caller then reads the whole archive with ``strict_zip`` (and ``zipfile``),
which decides, reports and says why, as it does for any archive. So are archives whose names are not all under one
folder, not ASCII, unsafe, duplicated or directories. Standard library and ``signing.core``.
"""

from __future__ import annotations

import mmap
import multiprocessing
import struct
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import ed25519_pool, strict_zip
from .ed25519_pool import Checked, Facts
from .verifier import MAX_MEMBER_BYTES

_LENGTHS = struct.Struct("<3H")  # name, extra field and comment lengths, at byte 28 of a central header
_STATEMENT_OR_KEY = (*ed25519_pool.STATEMENT_FOLDERS, ed25519_pool.KEYS)


class Fallback(Exception):
    """The archive is to be read whole by ``strict_zip`` (damaged, unusual, or not laid out as an export)."""


@dataclass(frozen=True)
class Part:
    """A run of central directory entries: where the first starts, how many, and how many statements."""

    start: int
    count: int
    statements: int


@dataclass(frozen=True)
class Layout:
    path: str
    folder: str  # the one top-level folder, with its "/"
    cd_offset: int
    end: int
    parts: tuple[Part, ...]
    names: list[str]  # every entry's path inside the folder, in the directory's order (as the workers read them)
    starts: list[int]  # and where each entry starts in the central directory


def _open(path: str) -> mmap.mmap:
    with Path(path).open("rb") as file:
        return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)


def directory(data: mmap.mmap) -> tuple[int, int, int, bytes]:
    """The central directory's entry count, start and end (``strict_zip.directory``), and the folder its first
    entry names (with its "/")."""
    try:
        entries, cd_offset, end = strict_zip.directory(data)
        first_length = _LENGTHS.unpack_from(data, cd_offset + 28)[0] if entries else 0
    except (strict_zip.BadArchive, strict_zip.Unusual, struct.error, ValueError) as exc:
        raise Fallback(str(exc)) from exc
    return entries, cd_offset, end, bytes(data[cd_offset + 46 : cd_offset + 46 + first_length]).split(b"/", 1)[0] + b"/"


def find(data: mmap.mmap, name: str) -> tuple[int, bytes] | None:
    """The content of one member, found by its name near the central directory's end (the manifest, before the
    directory is walked), and where its central directory entry starts: only a guess, as a name could also be found
    in another entry's fields; None if not found or not read on the fast path."""
    try:
        _, cd_offset, end, folder = directory(data)
        target = folder + name.encode()
        header = data.rfind(target, cd_offset, end) - 46
        if header < cd_offset or data[header : header + 4] != strict_zip._CENTRAL_MAGIC \
                or _LENGTHS.unpack_from(data, header + 28)[0] != len(target):
            return None
        files, _, _ = read_part(data, folder.decode("ascii", "replace"), cd_offset, Part(header, 1, 0))
    except (Fallback, struct.error, ValueError):
        return None
    return (header, files[0][1]) if files and files[0][0] == name else None


def layout(path: str, data: mmap.mmap, cut: Callable[[Part], None] = lambda part: None) -> Layout:
    """The central directory cut into runs (see the module docstring); ``cut`` is called with each run of
    statements as soon as it is cut."""
    entries, cd_offset, end, folder = directory(data)
    try:
        return _cut(path, data, entries, cd_offset, end, folder, cut)
    except (struct.error, ValueError) as exc:
        raise Fallback(str(exc)) from exc


def _cut(path: str, data: mmap.mmap, entries: int, cd_offset: int, end: int, folder: bytes,
         on_cut: Callable[[Part], None]) -> Layout:
    lengths, chunk = _LENGTHS.unpack_from, ed25519_pool.CHUNK
    endorsement = folder + ed25519_pool.ENDORSEMENTS.encode()
    statement_folders = tuple(folder + name.encode() for name in ed25519_pool.STATEMENT_FOLDERS)
    statement_or_key = tuple(folder + name.encode() for name in _STATEMENT_OR_KEY)
    parts: list[Part] = []
    names: list[str] = []
    starts: list[int] = []
    add_name, add_start, cut = names.append, starts.append, len(folder)
    position = start = cd_offset
    count = statements = 0
    in_statements = False
    for _ in range(entries):
        name_length, extra_length, comment_length = lengths(data, position + 28)
        name = data[position + 46 : position + 46 + name_length]
        add_name(name[cut:].decode("ascii", "replace"))
        add_start(position)
        here = name.startswith(statement_or_key)
        if count and (here != in_statements or (statements >= chunk and name.startswith(endorsement)
                                                 and name.endswith(b".json"))):
            parts.append(Part(start, count, statements))
            if statements:
                on_cut(parts[-1])
            start, count, statements = position, 0, 0
        in_statements = here
        count += 1
        statements += name.startswith(statement_folders) and name.endswith(b".json")
        position += 46 + name_length + extra_length + comment_length
        if position > end:
            raise Fallback("the central directory runs past its end")
    if position != end:
        raise Fallback("the central directory is not the size its end record declares")
    if count:
        parts.append(Part(start, count, statements))
        if statements:
            on_cut(parts[-1])
    return Layout(path, folder.decode("ascii", "replace"), cd_offset, end, tuple(parts), names, starts)


def read_part(data: mmap.mmap, folder: str, cd_offset: int, part: Part,
              known: dict[int, bytes] | None = None) -> tuple[list[tuple[str, bytes]], int, int]:
    """The run's files (path inside the folder, content), where its first member starts and where its last ends;
    ``known``: contents already read by this function, by where their entry starts (not inflated again)."""
    central, local, crc32 = strict_zip._CENTRAL.unpack_from, strict_zip._LOCAL.unpack_from, zlib.crc32
    central_magic, local_magic = strict_zip._CENTRAL_MAGIC, strict_zip._LOCAL_MAGIC
    special, methods, limit = strict_zip._SPECIAL, strict_zip._METHODS, MAX_MEMBER_BYTES
    prefix = folder.encode()
    cut = len(prefix)
    files: list[tuple[str, bytes]] = []
    position, next_free, first = part.start, 0, -1
    try:
        for _ in range(part.count):
            magic, flags, method, crc, compressed, size, name_length, extra_length, comment_length, offset = \
                central(data, position)
            name_start = position + 46
            raw_name = data[name_start : name_start + name_length]
            start = offset + 30 + name_length
            local_header = local(data, offset)
            if (magic != central_magic or flags & special or method not in methods or offset < next_free
                    or start > cd_offset or size > limit or local_header[0] != local_magic
                    or extra_length or local_header[2] or local_header[1] != data[position + 6 : position + 30]
                    or data[start - name_length : start] != raw_name or not raw_name.startswith(prefix)
                    or not raw_name.isascii()):
                raise Fallback("an entry the fast reader leaves to strict_zip")
            first = offset if first < 0 else first
            entry, position = position, name_start + name_length + comment_length
            next_free = start + compressed
            if next_free > cd_offset:
                raise Fallback("a member runs past its end")
            if known is not None and entry in known:
                content = known[entry]
            elif method:
                content = _inflate(data[start:next_free], size)
            elif compressed == size:
                content = data[start:next_free]
            else:
                raise Fallback("a stored member with two different sizes")
            if crc32(content) != crc:
                raise Fallback("a CRC-32 mismatch")
            name = raw_name[cut:].decode("ascii")
            if (not name or name[-1] == "/" or name[0] == "/" or "\x00" in name
                    or ".." in name and ".." in name.split("/")):
                raise Fallback("a directory entry, or an unsafe name")
            files.append((name, content))
    except struct.error as exc:
        raise Fallback("a header cut short") from exc
    return files, first, next_free


def _inflate(compressed: bytes, size: int) -> bytes:
    stream = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        content = stream.decompress(compressed, size + 1)
    except zlib.error as exc:
        raise Fallback("a damaged deflate stream") from exc
    if not stream.eof or stream.unused_data or stream.unconsumed_tail or len(content) != size:
        raise Fallback("a member that does not inflate to exactly its declared size")
    return content


_mapped: dict[str, mmap.mmap] = {}  # in a worker: the archive, mapped once


def check_part(path: str, folder: str, cd_offset: int, part: Part, facts: Facts) -> tuple[Checked, int, int, int]:
    """A worker's task: the run read and checked; with where its members start and end, and how many files."""
    data = _mapped.get(path)
    if data is None:
        data = _mapped[path] = _open(path)
    files, first, next_free = read_part(data, folder, cd_offset, part)
    return ed25519_pool.check_files(files, facts), first, next_free, len(files)


Run = tuple[Part, list[tuple[str, bytes]], int, int]  # a run as read: its files, where they start and end


class Reader:
    """The runs with statements checked on ``jobs`` processes as soon as they are cut (here for one job), the others
    read here."""

    def __init__(self, path: str, data: mmap.mmap, jobs: int, facts: Facts) -> None:
        self.path, self.data, self.jobs, self.facts = path, data, jobs, facts
        self._executor: ProcessPoolExecutor | None = None
        self._pending: list[tuple[Part, Future[tuple[Checked, int, int, int]] | None]] = []
        self._folder, self._cd_offset = "", 0

    def __enter__(self) -> Reader:
        if self.jobs > 1:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            self._executor = ProcessPoolExecutor(max_workers=self.jobs, mp_context=context)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def layout(self) -> Layout:
        """The archive's layout, each run of statements sent to a worker as soon as it is cut."""
        _, self._cd_offset, _, folder = directory(self.data)
        self._folder = folder.decode("ascii", "replace")
        return layout(self.path, self.data, self._submit)

    def _submit(self, part: Part) -> None:
        future = None if self._executor is None else \
            self._executor.submit(check_part, self.path, self._folder, self._cd_offset, part, self.facts)
        self._pending.append((part, future))

    def others(self, found: Layout, known: dict[int, bytes]) -> tuple[dict[str, bytes], list[Run]]:
        """The files of the runs without statements (contents by path), and those runs as read (``known``: as for
        ``read_part``)."""
        runs = []
        contents: dict[str, bytes] = {}
        for part in found.parts:
            if not part.statements:
                files, first, next_free = read_part(self.data, found.folder, found.cd_offset, part, known)
                runs.append((part, files, first, next_free))
                contents.update(files)
        return contents, runs

    def results(self, found: Layout, read: list[Run]) -> Checked:
        """Every run's files checked, merged; ``Fallback`` if the runs overlap, are out of order or name a file
        twice, or a statement's signature or key file is in another run."""
        by_start: dict[int, tuple[Checked, int, int, int]] = {}
        for part, future in self._pending:
            if future is None:
                files, first, next_free = read_part(self.data, found.folder, found.cd_offset, part)
                by_start[part.start] = (ed25519_pool.check_files(files, self.facts), first, next_free, len(files))
            else:
                by_start[part.start] = future.result()
        for part, files, first, next_free in read:
            by_start[part.start] = (ed25519_pool.check_files(files, self.facts), first, next_free, len(files))
        merged, previous_end, total = Checked(), 0, 0
        for part in found.parts:
            checked, first, next_free, count = by_start[part.start]
            if first < previous_end:
                raise Fallback("members out of order, or overlapping")
            previous_end, total = next_free, total + count
            merged.merge(checked)
        if len(merged.digests) != total:
            raise Fallback("a name twice")
        if any(name in merged.digests for name in merged.absent):
            self._resolve(found, merged)
        return merged

    def _resolve(self, found: Layout, merged: Checked) -> None:
        """The statements whose signature or key file is in another run (a key file is written once, with the first
        statement of its key: an endorser who withdrew and endorsed again), checked again here with those files."""
        where = dict(zip(found.names, found.starts, strict=True))
        issuer_members = ed25519_pool.members_naming(self.facts.issuer)

        def content(name: str) -> bytes | None:
            if name not in merged.digests:
                return None
            files, _, _ = read_part(self.data, found.folder, found.cd_offset, Part(where[name], 1, 0))
            return files[0][1]

        for name, (data, signature) in merged.unresolved.items():
            digest, withdrawal = merged.digests[name], name.startswith(ed25519_pool.WITHDRAWALS)
            named = name == (ed25519_pool.WITHDRAWALS if withdrawal else ed25519_pool.ENDORSEMENTS) + digest + ".json"
            merged.outcomes[name] = ed25519_pool.check(
                self.facts, issuer_members, data, digest, digest if named else "",
                signature if signature is not None else content(name[:-5] + ".sig"),
                content(f"{ed25519_pool.KEYS}{ed25519_pool.fingerprint_named(data)}.pem"), withdrawal)
