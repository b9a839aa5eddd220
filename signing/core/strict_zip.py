"""A small, strict ZIP reader for ``signing.verify``: every member's bytes from one buffer.

A bundle holds three small files per signature, and ``zipfile`` spends more per member (its
``ZipInfo`` objects, its ``ZipExtFile`` reader) than the rest of the verification. This reader
walks the central directory once and reads each member straight from the archive's bytes,
checking as it goes what ``zipfile`` checks and more:

- the end-of-central-directory record ends the file, is for one disk, and the central directory
  ends exactly where it starts and holds exactly the entries it counts;
- every central entry is complete, and its local header has the same flags, compression method,
  CRC-32, sizes and name (only "version needed" and the date may differ); members lie inside
  the archive, before the central directory, in order and without overlapping;
- a member inflates to exactly its declared size, ends where the deflate stream ends, and has
  its declared CRC-32; names are unique, UTF-8 (or cp437, as ``zipfile`` decodes them), without
  NUL bytes, and no Info-ZIP "Unicode path" extra field gives a member a second name (the one
  ``unzip`` would show).

``BadArchive`` means the archive is damaged or refused (encrypted, say); the verifier reports it
as a failure. ``Unusual`` means an archive this reader leaves to ``zipfile``: zip64 sizes or
offsets, data descriptors, compression methods other than stored and deflated, a comment, leading
bytes, members out of order. ``read_with_zipfile`` then reads it, and raises what ``zipfile`` raises.
A zip64 end record (more than 65,535 members: an endorsement export) is read here when it has the
form ``zipfile`` writes.
"""

from __future__ import annotations

import io
import mmap
import struct
import zipfile
import zlib

STORED, DEFLATED = 0, 8
_ENCRYPTED, _DATA_DESCRIPTOR, _STRONG_ENCRYPTION, _UTF8 = 0x1, 0x8, 0x40, 0x800
_SPECIAL = _ENCRYPTED | _DATA_DESCRIPTOR | _STRONG_ENCRYPTION
_METHODS = frozenset((STORED, DEFLATED))

_END = struct.Struct("<4s4H2LH")  # APPNOTE 4.3.16
_END_MAGIC = b"PK\x05\x06"
_ZIP64_LOCATOR_MAGIC = b"PK\x06\x07"
_LOCATOR = struct.Struct("<4sLQL")  # APPNOTE 4.3.15
_END64 = struct.Struct("<4sQ2H2L4Q")  # APPNOTE 4.3.14, without extensible data
_END64_MAGIC = b"PK\x06\x06"
# The central directory header (APPNOTE 4.3.12): signature, flags, method, CRC-32, sizes, lengths
# of name, extra field and comment, and the local header's offset; bytes 6-30 (version needed to
# extract … name length) must equal bytes 4-28 of the local header (4.3.7), whose extra field
# length follows.
_CENTRAL = struct.Struct("<4s4x2H4x3L3H8xL")
_CENTRAL_MAGIC = b"PK\x01\x02"
_LOCAL = struct.Struct("<4s24sH")
_LOCAL_FIELDS = struct.Struct("<4s5H3L2H")
_HEADER_FIELDS = struct.Struct("<5H3LH")  # bytes 6-30 of a central header
_LOCAL_MAGIC = b"PK\x03\x04"
_MAX_32 = 0xFFFFFFFF
_UNICODE_PATH = 0x7075  # Info-ZIP Unicode Path extra field (APPNOTE 4.6.9)


class BadArchive(ValueError):
    """The archive is damaged, inconsistent or refused."""


class Unusual(Exception):
    """A feature this reader leaves to ``zipfile``."""


def read_members(data: bytes, max_member_bytes: int) -> dict[str, bytes]:
    """Every file's content by name, in central-directory order (directory entries checked, left out).

    Raises ``BadArchive`` or ``Unusual`` (see the module docstring).
    """
    entries, cd_offset, end = directory(data)
    try:
        return _read_entries(data, entries, cd_offset, end, max_member_bytes)
    except struct.error as exc:  # a header cut short by the end of the archive
        raise BadArchive("the archive is truncated or its central directory is damaged") from exc


def directory(data: bytes | mmap.mmap) -> tuple[int, int, int]:
    """The central directory's entry count, where it starts and where it ends (its end record's start), from the
    end records; raises ``BadArchive`` or ``Unusual`` as ``read_members`` does."""
    end = len(data) - _END.size
    if end < 0 or data[end : end + 4] != _END_MAGIC:
        if data.rfind(_END_MAGIC, max(0, end - 0xFFFF)) >= 0:
            raise Unusual("an archive comment, or bytes after the archive")
        raise BadArchive("no end-of-central-directory record: not a zip file, or truncated")
    _, disk, cd_disk, disk_entries, entries, cd_size, cd_offset, comment = _END.unpack_from(data, end)
    if end >= _LOCATOR.size and data[end - _LOCATOR.size : end - 16] == _ZIP64_LOCATOR_MAGIC:
        # Many members (more than 65,535): the counts and the directory's place are in the zip64 end record.
        if disk or cd_disk or disk_entries != entries or comment:
            raise BadArchive("a multi-disk archive, or a damaged end-of-central-directory record")
        entries, cd_size, cd_offset, end = _zip64_end(data, end, entries, cd_size, cd_offset)
        disk_entries = entries
    elif _MAX_32 in (cd_size, cd_offset):
        raise Unusual("zip64")
    if disk or cd_disk or disk_entries != entries or comment:
        raise BadArchive("a multi-disk archive, or a damaged end-of-central-directory record")
    if cd_offset + cd_size != end:
        if cd_offset + cd_size < end:
            raise Unusual("bytes before the archive or after its central directory")
        raise BadArchive("the central directory runs past its end record")
    return entries, cd_offset, end


def _zip64_end(data: bytes | mmap.mmap, end: int, entries: int, cd_size: int,
               cd_offset: int) -> tuple[int, int, int, int]:
    """The entry count, directory size and offset of the zip64 end record, and where that record starts.

    Only the form ``zipfile`` writes is read here: one disk, the record right before its locator, no
    extensible data, and the 32-bit fields of the end record equal to the zip64 values or saturated.
    Anything else is ``Unusual`` (left to ``zipfile``).
    """
    locator = end - _LOCATOR.size
    _, locator_disk, record, disks = _LOCATOR.unpack_from(data, locator)
    if locator_disk or disks != 1 or record != locator - _END64.size:
        raise Unusual("a zip64 end record that is not where its locator is")
    magic, size, _, _, disk, cd_disk, disk_entries64, entries64, cd_size64, cd_offset64 = \
        _END64.unpack_from(data, record)
    if magic != _END64_MAGIC or size != _END64.size - 12 or disk or cd_disk or disk_entries64 != entries64:
        raise Unusual("a zip64 end record of another form")
    if (entries not in (entries64, 0xFFFF) or cd_size not in (cd_size64, _MAX_32)
            or cd_offset not in (cd_offset64, _MAX_32)):
        raise BadArchive("the zip64 end record contradicts the end-of-central-directory record")
    if cd_offset64 + cd_size64 != record:
        raise BadArchive("the central directory does not end where the zip64 end record starts")
    return entries64, cd_size64, cd_offset64, record


def _read_entries(data: bytes, entries: int, cd_offset: int, end: int, max_member_bytes: int) -> dict[str, bytes]:
    # Module constants as locals: this loop runs once per member (three per signature).
    central, local, crc32, inflate = _CENTRAL.unpack_from, _LOCAL.unpack_from, zlib.crc32, _inflate
    central_magic, local_magic, special, methods = _CENTRAL_MAGIC, _LOCAL_MAGIC, _SPECIAL, _METHODS
    members: dict[str, bytes] = {}
    directories: set[str] = set()
    position, next_free = cd_offset, 0
    for _ in range(entries):
        magic, flags, method, crc, compressed, size, name_length, extra_length, comment_length, offset = \
            central(data, position)
        name_start = position + 46
        raw_name = data[name_start : name_start + name_length]
        start = offset + 30 + name_length
        local_header = local(data, offset)
        if (magic != central_magic or flags & special or method not in methods or offset < next_free
                or start > cd_offset or size > max_member_bytes or local_header[0] != local_magic
                or extra_length or local_header[2] or local_header[1] != data[position + 6 : position + 30]
                or data[start - name_length : start] != raw_name):
            _diagnose(data, position, next_free, cd_offset, max_member_bytes)
        position = name_start + name_length + extra_length + comment_length
        start += local_header[2]
        next_free = start + compressed
        if next_free > cd_offset or position > end:
            raise BadArchive(f"member {raw_name!r} or its directory entry runs past its end")
        name = raw_name.decode() if raw_name.isascii() else _decode(raw_name, flags)
        if method:
            content = inflate(data[start:next_free], size, name)
        elif compressed == size:
            content = data[start:next_free]
        else:
            raise BadArchive(f"stored member {name!r} has two different sizes")
        if crc32(content) != crc:
            raise BadArchive(f"member {name!r}: CRC-32 mismatch")
        if name in members or "\x00" in name:
            raise BadArchive(f"duplicate member name, or one with a NUL byte: {name!r}")
        if name[-1:] != "/":
            members[name] = content
        elif name in directories:
            raise BadArchive(f"duplicate directory entry {name!r}")
        else:
            directories.add(name)
    if position != end:
        raise BadArchive("the central directory is not the size its end record declares")
    return members


def _diagnose(data: bytes, position: int, next_free: int, cd_offset: int, max_member_bytes: int) -> None:
    """Why an entry left the fast path: raise ``BadArchive`` or ``Unusual``, or return if it is fine after all.

    Fine: extra fields (other than a Unicode path), and a local header that differs from the
    central one only in version needed and date.
    """
    magic, flags, method, _, compressed, size, name_length, extra_length, _, offset = \
        _CENTRAL.unpack_from(data, position)
    raw_name = data[position + _CENTRAL.size : position + _CENTRAL.size + name_length]
    if magic != _CENTRAL_MAGIC:
        raise BadArchive("a damaged central directory entry")
    if flags & (_ENCRYPTED | _STRONG_ENCRYPTION):
        raise BadArchive(f"encrypted member {raw_name!r}")
    if flags & _DATA_DESCRIPTOR or method not in _METHODS or _MAX_32 in (compressed, size, offset):
        raise Unusual(f"member {raw_name!r} uses data descriptors, zip64 or compression method {method}")
    if offset < next_free:
        raise Unusual("members out of order, or overlapping")
    if offset + _LOCAL.size + name_length > cd_offset:
        raise BadArchive(f"the local header of {raw_name!r} lies outside the archive")
    if size > max_member_bytes:
        raise BadArchive(f"member {raw_name!r} is larger than {max_member_bytes} bytes")
    local_magic, _, local_flags, local_method, _, _, *local_values = _LOCAL_FIELDS.unpack_from(data, offset)
    _, central_flags, central_method, _, _, *central_values = _HEADER_FIELDS.unpack_from(data, position + 6)
    local_name = data[offset + _LOCAL.size : offset + _LOCAL.size + local_values[3]]
    if local_magic == _LOCAL_MAGIC and _MAX_32 in local_values[1:3]:
        raise Unusual(f"member {raw_name!r} has zip64 sizes in its local header")
    if (local_magic != _LOCAL_MAGIC or (local_flags, local_method, *local_values[:4], local_name)
            != (central_flags, central_method, *central_values, raw_name)):
        raise BadArchive(f"the local header of {raw_name!r} differs from the central directory")
    central, local = position + _CENTRAL.size + name_length, offset + _LOCAL.size + name_length
    for extra in (data[central : central + extra_length], data[local : local + local_values[4]]):
        problem = extra_field_problem(extra)
        if problem:
            raise BadArchive(f"member {raw_name!r}: {problem}")


def extra_field_problem(extra: bytes) -> str | None:
    """What is wrong with a member's extra field data, if anything: records that do not add up, or a
    Unicode path record (a second name, which ``unzip`` would show instead of the one checked)."""
    position = 0
    while position + 4 <= len(extra):
        kind, size = struct.unpack_from("<2H", extra, position)
        if kind == _UNICODE_PATH:
            return "a second, Unicode name in an extra field"
        position += 4 + size
    return None if position == len(extra) else "a malformed extra field"


def _decode(raw_name: bytes, flags: int) -> str:
    """A non-ASCII member name, decoded as ``zipfile`` decodes it."""
    if not flags & _UTF8:
        return raw_name.decode("cp437")
    try:
        return raw_name.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadArchive(f"member name {raw_name!r} is not UTF-8") from exc


def _inflate(compressed: bytes, size: int, name: str) -> bytes:
    """A raw deflate stream that must end exactly at the member's end and give exactly ``size`` bytes."""
    stream = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        content = stream.decompress(compressed, size + 1)
    except zlib.error as exc:
        raise BadArchive(f"member {name!r}: damaged deflate stream ({exc})") from exc
    if not stream.eof or stream.unused_data or stream.unconsumed_tail or len(content) != size:
        raise BadArchive(f"member {name!r} does not inflate to exactly its declared size")
    return content


def read_with_zipfile(data: bytes, max_member_bytes: int) -> dict[str, bytes]:
    """The same, through ``zipfile`` (slower; for the archives ``read_members`` leaves to it).

    Raises what ``zipfile`` raises for a damaged, encrypted or exotic archive, or ``BadArchive``.
    """
    members: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        if len({info.filename for info in infos}) != len(infos):
            raise BadArchive("duplicate member names")
        for info in infos:
            problem = extra_field_problem(info.extra)
            if problem:
                raise BadArchive(f"member {info.filename!r}: {problem}")
            if info.file_size > max_member_bytes:
                raise BadArchive(f"member {info.filename!r} is larger than {max_member_bytes} bytes")
            if not info.is_dir():
                members[info.filename] = archive.read(info)
    return members
