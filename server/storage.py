"""Durable storage seams: blobs (models, weights) and per-round update logs, as files.

``BlobStore`` and ``UpdateLog`` are the interfaces an object store (S3-compatible) would
implement for a multi-replica deployment; the classes here are the embedded default. Every
write is durable when the call returns: data is written, fsynced, renamed into place, and the
directory is fsynced.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path
from typing import BinaryIO, Protocol

_KEY = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
_RECORD = struct.Struct("<I")


class BlobStore(Protocol):
    """Immutable named byte strings."""

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def size(self, key: str) -> int: ...
    def exists(self, key: str) -> bool: ...


class UpdateLog(Protocol):
    """Append-only logs of update bodies, one per round, kept until the round is published."""

    def append(self, round_number: int, data: bytes) -> int: ...
    def sync(self, round_numbers: set[int]) -> None: ...
    def read(self, round_number: int, offset: int, length: int) -> bytes: ...
    def drop(self, round_number: int) -> None: ...


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` so that a crash leaves either the old or the new file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


class FileBlobStore:
    """Blobs as files under ``root``; keys are relative paths like ``weights/3.fp32``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key) or ".." in key.split("/"):
            raise ValueError(f"invalid blob key {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` durably under ``key`` (atomic replace)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``; FileNotFoundError if none."""
        return self._path(key).read_bytes()

    def size(self, key: str) -> int:
        """Size in bytes of ``key``."""
        return self._path(key).stat().st_size

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        return self._path(key).is_file()


class FileUpdateLog:
    """One append-only file per round: records of (u32 length, body).

    ``append`` only buffers in the OS; ``sync`` fsyncs, so a batch of appends costs one fsync per
    touched round (group commit). A record counts only once the ledger row pointing at it is
    committed, so a torn tail after a crash is harmless garbage.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._files: dict[int, BinaryIO] = {}

    def _path(self, round_number: int) -> Path:
        return self.root / f"round-{round_number:08d}.log"

    def _file(self, round_number: int) -> BinaryIO:
        if round_number not in self._files:
            path = self._path(round_number)
            is_new = not path.exists()
            self._files[round_number] = open(path, "ab", buffering=0)
            if is_new:
                fsync_dir(self.root)
        return self._files[round_number]

    def append(self, round_number: int, data: bytes) -> int:
        """Append a record; return the offset of its body."""
        file = self._file(round_number)
        offset = file.tell() + _RECORD.size
        record = memoryview(_RECORD.pack(len(data)) + data)
        while record:  # an unbuffered write may be partial
            record = record[file.write(record):]
        return offset

    def sync(self, round_numbers: set[int]) -> None:
        """Make every append to these rounds durable."""
        for number in round_numbers:
            os.fdatasync(self._files[number].fileno())

    def read(self, round_number: int, offset: int, length: int) -> bytes:
        """The body stored at ``offset``."""
        with open(self._path(round_number), "rb") as file:
            file.seek(offset)
            data = file.read(length)
        if len(data) != length:
            raise OSError(f"update log of round {round_number} is truncated at offset {offset}")
        return data

    def drop(self, round_number: int) -> None:
        """Delete the log of a published or abandoned round."""
        file = self._files.pop(round_number, None)
        if file is not None:
            file.close()
        self._path(round_number).unlink(missing_ok=True)

    def close(self) -> None:
        """Close open files."""
        for file in self._files.values():
            file.close()
        self._files.clear()
