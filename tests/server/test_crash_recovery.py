"""SIGKILL the server at random moments of a round; after each restart no acknowledged update is
lost and none is counted twice — checked against the weights the round finally publishes."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from edge_sdk.wire import decode_update, decode_weights, encode_update, read_manifest
from tests.support.device import TestDevice
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow
TRIALS = 20
DEVICES = 120


class Fleet:
    """Devices that upload random deltas; remembers every body and every acknowledgement."""

    def __init__(self, server: LiveServer, specs) -> None:
        self.server, self.specs = server, specs
        self.devices = [TestDevice(server.url, server.ca) for _ in range(DEVICES)]
        token = server.create_token(uses=DEVICES)
        for device in self.devices:
            assert device.enroll(token).status_code == 201
        self.pending: dict[int, tuple[str, bytes]] = {}  # device index → (upload url, body) not yet acked
        self.bodies: dict[str, bytes] = {}  # task id → body
        self.acked: set[str] = set()
        self.done: set[int] = set()
        self.interrupted = 0
        self.duplicates = 0
        self.rng = np.random.default_rng(0)
        self.lock = threading.Lock()

    def body_for(self, task: dict) -> bytes:
        with self.lock:
            delta = {s.name: self.rng.normal(0, 0.01, s.shape).astype(np.float32) for s in self.specs}
        meta = {"task_id": task["task_id"], "round": task["round"], "base_version": task["base_version"],
                "num_examples": int(self.rng.integers(1, 100)), "metrics": {}}
        body, _ = encode_update(delta, task["codec"]["preset"], seed=task["codec"]["seed"],
                                rotation_seed=task["codec"]["rotation_seed"], meta=meta)
        return body

    def work(self, indices: list[int]) -> None:
        """Upload (or retry) for these devices until done or the server dies."""
        try:
            for index in indices:
                device = self.devices[index]
                if index not in self.pending:
                    task = device.checkin().json()["task"]
                    self.pending[index] = (task["upload"]["url"], self.body_for(task))
                    self.bodies[task["task_id"]] = self.pending[index][1]
                url, body = self.pending[index]
                answer = device.upload(url, body)
                assert answer.status_code == 202, answer.text
                self.duplicates += answer.json()["status"] == "duplicate"
                self.acked.add(url.split("/")[3])
                self.done.add(index)
                del self.pending[index]
        except requests.RequestException:
            self.interrupted += 1
            return  # the server was killed mid-request: this upload stays pending and is retried

    def run_until_killed(self, kill_after_acks: int, jitter_s: float, workers: int = 3) -> None:
        """Upload from several threads; SIGKILL the server ``jitter_s`` after ``kill_after_acks`` more acks.

        Triggering on progress rather than on a clock keeps the kills inside the round however fast
        the server is, and the jitter puts them at random points of the requests in flight.
        """
        todo = [i for i in range(DEVICES) if i not in self.done]
        random.Random(len(self.done)).shuffle(todo)
        chunks = [todo[k::workers] for k in range(workers)]
        threads = [threading.Thread(target=self.work, args=(chunk,)) for chunk in chunks]
        target = len(self.done) + kill_after_acks
        for thread in threads:
            thread.start()
        while len(self.done) < target and any(thread.is_alive() for thread in threads):
            time.sleep(0.001)
        time.sleep(jitter_s)
        self.server.kill()
        for thread in threads:
            thread.join()


def ledger_rows(data_dir: Path, round_number: int) -> dict[str, int]:
    with sqlite3.connect(data_dir / "ledger.sqlite3") as conn:
        rows = conn.execute("SELECT task_id, num_examples FROM updates WHERE round = ?", (round_number,))
        return dict(rows.fetchall())


def test_sigkill_at_random_points_loses_and_duplicates_nothing(tmp_path: Path, digits_mlp_tflite: Path) -> None:
    specs = read_manifest(digits_mlp_tflite.read_bytes()).trainable_weights
    server = LiveServer(digits_mlp_tflite, tmp_path / "data",
                        ["--round-size", str(DEVICES), "--min-quorum", "1", "--deadline", "3600",
                         "--codec", "int8", "--rate", "1000"]).start()
    try:
        fleet = Fleet(server, specs)
        base = decode_weights((server.data_dir / "blobs/weights/0.fp32").read_bytes(), specs)[1]
        rng = random.Random(1)
        for trial in range(TRIALS):
            share = (DEVICES - len(fleet.done)) // (2 * (TRIALS - trial))  # leaves half the round for the end
            fleet.run_until_killed(kill_after_acks=rng.randint(0, share), jitter_s=rng.uniform(0.0, 0.02))
            server.start()
            counted = ledger_rows(server.data_dir, 1)
            assert fleet.acked <= set(counted), "an acknowledged update was lost"
            assert requests.get(server.url + "/healthz", verify=server.ca).json()["accepted"] == len(counted)
        assert len(fleet.done) < DEVICES, "the kills came too late to interrupt the round"
        assert fleet.interrupted >= TRIALS // 2, "too few kills interrupted a request"
        print(f"{len(fleet.done)} uploads acknowledged across {TRIALS} kills, {fleet.interrupted} requests "
              f"interrupted, {fleet.duplicates} retries answered as duplicates")
        counted = ledger_rows(server.data_dir, 1)
        fleet.work([i for i in range(DEVICES) if i not in fleet.done])  # finish the round without kills
        final = ledger_rows(server.data_dir, 1)
        assert set(counted) <= set(final) and len(final) == DEVICES
        deadline = time.monotonic() + 30
        while requests.get(server.url + "/healthz", verify=server.ca).json()["version"] != 1:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        published = decode_weights((server.data_dir / "blobs/weights/1.fp32").read_bytes(), specs)[1]
        total = sum(final.values())
        for spec in specs:
            mean = sum(n * decode_update(fleet.bodies[t], specs)[spec.name].astype(np.float64)
                       for t, n in final.items()) / total
            np.testing.assert_allclose(published[spec.name], base[spec.name] + mean, atol=1e-6)
    finally:
        server.kill()
