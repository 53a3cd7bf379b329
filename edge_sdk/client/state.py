"""The device's state directory: every write atomic, a full disk reported without losing state.

Layout (docs/device.md)::

    STATE_DIR/
      device.key               Ed25519 private key, PKCS#8 PEM, mode 0600
      device.json              {"device_id", "server"} once enrolled
      journal.json             the in-flight round (edge_sdk.client.round.RoundState)
      lock                     held by the running device process
      models/<sha256>.tflite   model graphs, cached by hash
      models/<sha256>.part     a model download in progress (resumed with Range)
      weights/<version>.npz    global weights, by version
      residuals/<model>.npz    error-feedback residual of accepted updates
      updates/<task_id>.bin    an encoded update, kept until the server acknowledged it
      updates/<task_id>.residual.npz   the residual that update leaves, committed on acknowledgement

A write goes to a temporary file in the same folder, is fsynced, renamed over the target and
the folder is fsynced, so a crash leaves either the old or the new file.
"""

from __future__ import annotations

import errno
import fcntl
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_sdk.client.errors import DiskFullError, StateError
from edge_sdk.signing import DeviceKey

_FULL = (errno.ENOSPC, errno.EDQUOT)


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``: the one place bytes reach the state file system."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _state_error(exc: OSError, path: Path) -> StateError:
    if exc.errno in _FULL:
        return DiskFullError(f"no space left on the disk of {path}; free some space and restart "
                             "(the previous state is intact)")
    return StateError(f"{path}: {exc.strerror or exc}")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` by ``data`` atomically and durably; on any error the old file stays."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _state_error(exc, path) from None


def append_durably(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path`` and fsync; on failure the file is cut back to its old length."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise _state_error(exc, path) from None
    try:
        size = os.fstat(fd).st_size
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, size)
            raise _state_error(exc, path) from None
    finally:
        os.close(fd)


def encode_arrays(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Named arrays as .npz bytes (no pickles)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


class StateDir:
    """One device's state directory; see the module docstring for its layout."""

    FOLDERS = ("models", "weights", "residuals", "updates")

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            for folder in self.FOLDERS:
                (self.root / folder).mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise _state_error(exc, self.root) from None
        self._lock_fd: int | None = None

    def path(self, *parts: str) -> Path:
        """The path of a file in the state directory."""
        return self.root.joinpath(*parts)

    def lock(self) -> None:
        """Take the directory's lock so that one process at a time runs rounds from it."""
        fd = os.open(self.path("lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateError(f"another device process is using {self.root}") from None
        self._lock_fd = fd

    def unlock(self) -> None:
        """Release the lock taken by :meth:`lock`."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def load_or_create_key(self) -> DeviceKey:
        """The device's Ed25519 key from ``device.key``, created (mode 0600) on first use."""
        path = self.path("device.key")
        if not path.exists():
            private_key = Ed25519PrivateKey.generate()
            pem = private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            atomic_write(path, pem, 0o600)
            return DeviceKey(private_key)
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise StateError(f"{path} is readable by other users (mode {mode:o}); run: chmod 600 {path}")
        try:
            return DeviceKey.load(path)
        except (ValueError, TypeError) as exc:
            raise StateError(f"{path} is not a valid device key ({exc})") from None

    def write_bytes(self, name: str, data: bytes) -> None:
        """Atomically replace file ``name`` (a path relative to the root)."""
        atomic_write(self.path(name), data)

    def read_bytes(self, name: str) -> bytes | None:
        """The bytes of file ``name``, or ``None`` if it does not exist."""
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _state_error(exc, self.path(name)) from None

    def write_json(self, name: str, value: Mapping[str, Any]) -> None:
        """Atomically replace file ``name`` by ``value`` as JSON."""
        self.write_bytes(name, json.dumps(value, indent=1, sort_keys=True).encode())

    def read_json(self, name: str) -> dict[str, Any] | None:
        """File ``name`` as a JSON object, ``None`` if absent; :class:`StateError` if corrupt."""
        data = self.read_bytes(name)
        if data is None:
            return None
        try:
            value = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StateError(f"{self.path(name)} is corrupt ({exc}); delete it to start afresh") from None
        if not isinstance(value, dict):
            raise StateError(f"{self.path(name)} is corrupt: not a JSON object")
        return value

    def write_arrays(self, name: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Atomically replace file ``name`` by named arrays (.npz)."""
        self.write_bytes(name, encode_arrays(arrays))

    def read_arrays(self, name: str) -> dict[str, np.ndarray] | None:
        """Named arrays from file ``name``, ``None`` if absent or unreadable (a cache miss)."""
        data = self.read_bytes(name)
        if data is None:
            return None
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                return {key: archive[key] for key in archive.files}
        except (OSError, ValueError):
            return None

    def rename(self, source: str, target: str) -> None:
        """Atomically move file ``source`` over ``target`` and make the move durable."""
        try:
            os.replace(self.path(source), self.path(target))
            _fsync_dir(self.path(target).parent)
        except OSError as exc:
            raise _state_error(exc, self.path(target)) from None

    def remove(self, name: str) -> None:
        """Delete file ``name`` if it exists."""
        self.path(name).unlink(missing_ok=True)

    def keep_only(self, folder: str, keep: set[str]) -> None:
        """Delete every file in ``folder`` whose name is not in ``keep`` (cache pruning)."""
        for file in self.path(folder).iterdir():
            if file.is_file() and file.name not in keep:
                file.unlink(missing_ok=True)
