"""Ed25519 checks on several processes, for ``signing.verify --jobs N`` on a large endorsement export.

The checks are sent in chunks, each one ``bytes`` object (for each check: the raw 32-byte key, the
64-byte signature, the message's length as 4 bytes, the message), never as one pickled object per check;
a worker answers a chunk with one byte per check (1: verified). The parent submits a chunk as soon as it
has gathered it, so that the workers verify while it goes on reading the archive. Standard library and
``cryptography`` only.
"""

from __future__ import annotations

import multiprocessing
import struct
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

CHUNK = 1024  # checks per chunk: large enough that a chunk's round trip is small beside its Ed25519 work
_LENGTH = struct.Struct("<L")
_KEY, _SIGNATURE = 32, 64


def pack(checks: list[tuple[bytes, bytes, bytes]]) -> bytes:
    """``(raw key, signature, message)`` checks as one chunk. A key or signature of another size is refused."""
    parts: list[bytes] = []
    for key, signature, message in checks:
        if len(key) != _KEY or len(signature) != _SIGNATURE:
            raise ValueError("an Ed25519 key is 32 bytes and a signature 64")
        parts += (key, signature, _LENGTH.pack(len(message)), message)
    return b"".join(parts)


def verify_chunk(chunk: bytes) -> bytes:
    """One byte per check of the chunk: 1 if the signature verifies, 0 if not (or the key is malformed)."""
    keys: dict[bytes, Ed25519PublicKey | None] = {}
    results = bytearray()
    position, end, length = 0, len(chunk), _LENGTH.unpack_from
    while position < end:
        raw = chunk[position : position + _KEY]
        signature = chunk[position + _KEY : position + _KEY + _SIGNATURE]
        (size,) = length(chunk, position + _KEY + _SIGNATURE)
        start = position + _KEY + _SIGNATURE + _LENGTH.size
        message, position = chunk[start : start + size], start + size
        if raw not in keys:
            try:
                keys[raw] = Ed25519PublicKey.from_public_bytes(raw)
            except ValueError:
                keys[raw] = None
        key = keys[raw]
        try:
            if key is None:
                raise InvalidSignature
            key.verify(signature, message)
            results.append(1)
        except InvalidSignature:
            results.append(0)
    return bytes(results)


class Pool:
    """``jobs`` worker processes (none for 1: the checks then run in this process, at ``results``)."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._executor: ProcessPoolExecutor | None = None
        self._pending: list[tuple[bytes, int]] = []  # jobs == 1: the chunks, checked at ``results``
        self._futures: list[tuple[Future[bytes], int]] = []

    def __enter__(self) -> Pool:
        if self.jobs > 1:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            self._executor = ProcessPoolExecutor(max_workers=self.jobs, mp_context=context)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def submit(self, checks: list[tuple[bytes, bytes, bytes]]) -> None:
        """Queue a chunk of checks; their results come back, in order, from ``results``."""
        if not checks:
            return
        chunk = pack(checks)
        if self._executor is None:
            self._pending.append((chunk, len(checks)))
        else:
            self._futures.append((self._executor.submit(verify_chunk, chunk), len(checks)))

    def results(self, verify: Callable[[bytes], bytes] = verify_chunk) -> list[bool]:
        """Every check's outcome, in the order submitted."""
        outcomes: list[bool] = []
        for chunk, count in self._pending:
            answer = verify(chunk)
            outcomes += [bool(byte) for byte in answer[:count]]
        for future, count in self._futures:
            answer = future.result()
            if len(answer) != count:
                raise RuntimeError("a worker answered a chunk with the wrong number of results")
            outcomes += [bool(byte) for byte in answer]
        self._pending.clear()
        self._futures.clear()
        return outcomes
