"""``strict_zip`` reads the zip64 end record ``zipfile`` writes for more than 65,535 members (an endorsement
export of more than ~21,000 endorsements), and refuses one that contradicts the classic end record."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from signing.core import strict_zip

MEMBERS = 65_536 + 10


@pytest.fixture(scope="module")
def archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as opened:
        for index in range(MEMBERS):
            opened.writestr(f"folder/{index:06d}", index.to_bytes(4, "big"))
    return buffer.getvalue()


def test_many_members_are_read_by_the_strict_reader(archive: bytes) -> None:
    assert archive[-22 - 20 : -22 - 16] == b"PK\x06\x07"  # zipfile wrote a zip64 end record
    members = strict_zip.read_members(archive, 100)
    assert len(members) == MEMBERS and members["folder/065545"] == (65_545).to_bytes(4, "big")


def test_a_zip64_count_that_contradicts_the_end_record_is_refused(archive: bytes) -> None:
    record = len(archive) - 22 - 20 - 56
    damaged = bytearray(archive)
    struct.pack_into("<2Q", damaged, record + 24, MEMBERS - 1, MEMBERS - 1)  # entries on this disk, in all
    with pytest.raises(strict_zip.BadArchive):
        strict_zip.read_members(bytes(damaged), 100)


def test_a_zip64_record_elsewhere_than_its_locator_says_is_left_to_zipfile(archive: bytes) -> None:
    damaged = bytearray(archive)
    locator = len(archive) - 22 - 20
    struct.pack_into("<Q", damaged, locator + 8, 0)
    with pytest.raises(strict_zip.Unusual):
        strict_zip.read_members(bytes(damaged), 100)
