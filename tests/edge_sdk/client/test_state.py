"""The state directory: atomic writes, key permissions, the lock, and a full disk."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge_sdk.client import state as state_module
from edge_sdk.client.errors import DiskFullError, StateError
from edge_sdk.client.state import StateDir, append_durably, atomic_write


def test_atomic_write_replaces_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "journal.json"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.json"]
    assert target.stat().st_mode & 0o777 == 0o600


def _fill_disk(monkeypatch: pytest.MonkeyPatch, after: int = 0) -> None:
    """Make the state module's one write seam fail with ENOSPC after ``after`` bytes."""
    real = state_module._write_all

    def write_all(fd: int, data: bytes) -> None:
        real(fd, data[:after])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(state_module, "_write_all", write_all)


def test_enospc_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "device.json"
    atomic_write(target, b'{"device_id": "dev_1"}')
    _fill_disk(monkeypatch, after=3)
    with pytest.raises(DiskFullError, match="no space left.*previous state is intact"):
        atomic_write(target, b'{"device_id": "dev_2", "more": "bytes"}')
    assert target.read_bytes() == b'{"device_id": "dev_1"}'
    assert [p.name for p in tmp_path.iterdir()] == ["device.json"]


def test_append_is_rolled_back_on_enospc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    part = tmp_path / "model.part"
    append_durably(part, b"first chunk|")
    _fill_disk(monkeypatch, after=4)
    with pytest.raises(DiskFullError):
        append_durably(part, b"second chunk")
    assert part.read_bytes() == b"first chunk|"


@pytest.fixture
def tiny_tmpfs(tmp_path: Path):
    """A 64 KiB tmpfs: a real full disk (needs root and mount; skipped where not permitted)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_real_full_disk_is_reported_and_loses_nothing(tiny_tmpfs: Path) -> None:
    state = StateDir(tiny_tmpfs / "state")
    state.write_json("device.json", {"device_id": "dev_1"})
    state.write_arrays("weights/1.npz", {"w": np.ones(100, np.float32)})
    with pytest.raises(DiskFullError, match="no space left"):
        state.write_arrays("weights/2.npz", {"w": np.ones(100_000, np.float32)})
    assert state.read_json("device.json") == {"device_id": "dev_1"}
    assert np.array_equal(state.read_arrays("weights/1.npz")["w"], np.ones(100, np.float32))
    assert not state.path("weights/2.npz").exists()
    state.write_json("journal.json", {"phase": "idle"})  # the space was given back
    assert state.read_json("journal.json") == {"phase": "idle"}


def test_key_is_created_private_and_reloaded(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    key = state.load_or_create_key()
    assert state.path("device.key").stat().st_mode & 0o777 == 0o600
    assert state.load_or_create_key().public_key_raw == key.public_key_raw
    assert state.root.stat().st_mode & 0o777 == 0o700


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.load_or_create_key()
    state.path("device.key").chmod(0o644)
    with pytest.raises(StateError, match="chmod 600"):
        state.load_or_create_key()


def test_a_corrupt_json_file_is_named(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.path("device.json").write_text("{not json")
    with pytest.raises(StateError, match="device.json is corrupt"):
        state.read_json("device.json")
    assert state.read_json("absent.json") is None


def test_only_one_process_may_hold_the_lock(tmp_path: Path) -> None:
    first, second = StateDir(tmp_path), StateDir(tmp_path)
    first.lock()
    with pytest.raises(StateError, match="another device process"):
        second.lock()
    first.unlock()
    second.lock()
    second.unlock()


def test_unreadable_arrays_are_a_cache_miss(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.write_bytes("weights/3.npz", b"garbage")
    assert state.read_arrays("weights/3.npz") is None
    state.write_arrays("weights/3.npz", {"a": np.arange(3)})
    assert state.read_arrays("weights/3.npz")["a"].tolist() == [0, 1, 2]
