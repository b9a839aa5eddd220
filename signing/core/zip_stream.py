"""A zip written entry by entry to a file, in constant memory: for the endorsement export.

``zipfile`` keeps a ``ZipInfo`` object per member until the archive is closed (hundreds of bytes each: a
few hundred megabytes for an export of 100,000 endorsements, three or more members each). This writer keeps
nothing per member: each member's central directory record goes to a temporary file as soon as the member is
written, and is copied after the last one. The archives it writes are plain: stored or deflated members, no
data descriptors, no extra fields, and the zip64 end record (only when there are more than 65,535 members)
in the form ``zipfile`` writes — what ``core.strict_zip`` reads. Members must start below 4 GiB (an export
of about two million endorsements); beyond, ``ValueError``.

Standard library only.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import tempfile
import zlib
from collections.abc import Iterable
from datetime import datetime
from typing import BinaryIO

STORED, DEFLATED = 0, 8
_UTF8 = 0x800
_LOCAL = struct.Struct("<4s5H3L2H")  # APPNOTE 4.3.7
_CENTRAL = struct.Struct("<4s6H3L5H2L")  # APPNOTE 4.3.12
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_LOCATOR = struct.Struct("<4sLQL")
_LIMIT_32, _LIMIT_16 = 0xFFFFFFFF, 0xFFFF
_UNIX_FILE = 0o100644 << 16  # a regular file, rw-r--r--
_MADE_BY = (3 << 8) | 20  # Unix, version 2.0 (as zipfile writes)


def dos_time(moment: datetime) -> tuple[int, int]:
    """The (time, date) fields of a member stamped ``moment`` (dates before 1980 are 1980)."""
    year = max(moment.year, 1980)
    return (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2), \
        ((year - 1980) << 9) | (moment.month << 5) | moment.day


class ZipStream:
    """Members written one by one to ``output`` (a binary file open for writing, at its start)."""

    def __init__(self, output: BinaryIO, moment: datetime) -> None:
        self.output, self.offset, self.count = output, 0, 0
        self.time, self.date = dos_time(moment)
        self._directory = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._closed = False

    def add(self, name: str, content: bytes, *, compress: bool = False) -> None:
        """One member, stored (or deflated if ``compress``), written at once."""
        if self._closed:
            raise ValueError("the archive is closed")
        raw_name = name.encode("utf-8")
        flags = 0 if raw_name.isascii() else _UTF8
        crc = zlib.crc32(content)
        if compress:
            packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
            data, method, version = packer.compress(content) + packer.flush(), DEFLATED, 20
        else:
            data, method, version = content, STORED, 10
        if self.offset > _LIMIT_32 or len(content) > _LIMIT_32 or len(data) > _LIMIT_32:
            raise ValueError("an archive member beyond 4 GiB: too large for this writer")
        self.output.write(_LOCAL.pack(b"PK\x03\x04", version, flags, method, self.time, self.date, crc, len(data),
                                      len(content), len(raw_name), 0) + raw_name + data)
        self._directory.write(_CENTRAL.pack(b"PK\x01\x02", _MADE_BY, version, flags, method, self.time, self.date,
                                            crc, len(data), len(content), len(raw_name), 0, 0, 0, 0, _UNIX_FILE,
                                            self.offset) + raw_name)
        self.offset += _LOCAL.size + len(raw_name) + len(data)
        self.count += 1

    def add_stream(self, name: str, chunks: Iterable[bytes]) -> str:
        """One deflated member from ``chunks``, never held whole; returns the hex SHA-256 of its content.

        Its local header is written first with empty sizes and completed once the last chunk is in, so
        ``output`` must be seekable.
        """
        if self._closed:
            raise ValueError("the archive is closed")
        raw_name = name.encode("utf-8")
        flags = 0 if raw_name.isascii() else _UTF8
        start = self.offset
        self.output.write(_LOCAL.pack(b"PK\x03\x04", 20, flags, DEFLATED, self.time, self.date, 0, 0, 0,
                                      len(raw_name), 0))
        self.output.write(raw_name)
        # Level 1: a file list of hex digests deflates about as well at any level, and much faster at this one.
        packer, digest = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS), hashlib.sha256()
        crc = size = written = 0
        for chunk in chunks:
            crc, size = zlib.crc32(chunk, crc), size + len(chunk)
            digest.update(chunk)
            data = packer.compress(chunk)
            self.output.write(data)
            written += len(data)
        data = packer.flush()
        self.output.write(data)
        written += len(data)
        if start > _LIMIT_32 or size > _LIMIT_32 or written > _LIMIT_32:
            raise ValueError("an archive member beyond 4 GiB: too large for this writer")
        end = self.output.tell()
        self.output.seek(start + 14)  # the CRC-32 and the sizes of the local header
        self.output.write(struct.pack("<3L", crc, written, size))
        self.output.seek(end)
        self._directory.write(_CENTRAL.pack(b"PK\x01\x02", _MADE_BY, 20, flags, DEFLATED, self.time, self.date,
                                            crc, written, size, len(raw_name), 0, 0, 0, 0, _UNIX_FILE, start))
        self._directory.write(raw_name)
        self.offset += _LOCAL.size + len(raw_name) + written
        self.count += 1
        return digest.hexdigest()

    def close(self) -> None:
        """The central directory and the end records (zip64 ones too for more than 65,535 members)."""
        if self._closed:
            return
        self._closed = True
        start, size = self.offset, self._directory.tell()
        self._directory.seek(0)
        shutil.copyfileobj(self._directory, self.output, 1 << 20)
        self._directory.close()
        end = start + size
        if self.count > _LIMIT_16 or start > _LIMIT_32 or size > _LIMIT_32:
            self.output.write(_END64.pack(b"PK\x06\x06", _END64.size - 12, 45, 45, 0, 0, self.count, self.count,
                                          size, start))
            self.output.write(_LOCATOR.pack(b"PK\x06\x07", 0, end, 1))
        count = min(self.count, _LIMIT_16)
        self.output.write(_END.pack(b"PK\x05\x06", 0, 0, count, count, min(size, _LIMIT_32), min(start, _LIMIT_32),
                                    0))
        self.output.flush()
