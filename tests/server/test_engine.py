"""The engine without HTTP: async (FedBuff) buffers and staleness, abandoned rounds, robust and
private aggregation, and a restart that rebuilds the running sum — on real SQLite files."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import numpy as np
import pytest

from edge_sdk.signing import DeviceKey, sign_request
from edge_sdk.wire import decode_weights, encode_update, read_manifest
from edge_sdk.wire import protocol as p
from server.config import build_config
from server.engine import Engine
from server.errors import ApiError
from server.model_source import initial_weights
from server.tokens import create_token

CHECKIN = p.CheckinRequest(p.Eligibility(True, True, True), None, None, "0.1.0", "test")


class Harness:
    """An open engine on ``data_dir`` plus helpers that act like devices."""

    def __init__(self, model: Path, data_dir: Path, **sections) -> None:
        self.model_bytes = model.read_bytes()
        self.specs = read_manifest(self.model_bytes).trainable_weights
        values = {"server": {"data_dir": str(data_dir), "model": str(model)}, **sections}
        self.engine = Engine(build_config(values), self.model_bytes)
        self.engine.open(lambda: initial_weights(self.model_bytes))
        self.rng = np.random.default_rng(0)

    async def enroll(self, count: int) -> list[str]:
        token = self.engine.ledger.write(lambda c: create_token(c, max_uses=count, expires_at=None, now=0.0))
        ids = []
        for _ in range(count):
            key = DeviceKey.generate()
            request = p.EnrollRequest(token, key.public_key_b64, "test", "0.1.0", "test")
            body = p.dumps(request)
            headers = sign_request(key, "POST", "/v1/enroll", body, None)
            status, answer = await self.engine.enroll(request, headers, "/v1/enroll", body, float(headers[p.HEADER_TIMESTAMP]))
            assert status == 201
            ids.append(answer.device_id)
        return ids

    async def task(self, device: str) -> p.Task:
        answer = await self.engine.checkin(device, CHECKIN, _now())
        assert isinstance(answer, p.TrainResponse), answer
        return answer.task

    def body(self, task: p.Task, scale: float = 0.01, examples: int = 10) -> tuple[bytes, dict]:
        delta = {s.name: self.rng.normal(0, scale, s.shape).astype(np.float32) for s in self.specs}
        meta = {"task_id": task.task_id, "round": task.round, "base_version": task.base_version,
                "num_examples": examples, "metrics": {"loss": 0.5}}
        body, _ = encode_update(delta, "fp32", seed=task.codec.seed, rotation_seed=task.codec.rotation_seed,
                                meta=meta)
        return body, delta

    async def upload(self, device: str, task_id: str, body: bytes) -> p.UploadAck:
        return await self.engine.upload(device, task_id, body, hashlib.sha256(body).hexdigest())

    def weights(self, version: int) -> dict:
        return decode_weights(self.engine.blobs.get(f"weights/{version}.fp32"), self.specs)[1]


def _now() -> float:
    import time

    return time.time()


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.fixture()
def model(digits_mlp_tflite: Path) -> Path:
    return digits_mlp_tflite


def test_async_buffers_weight_staleness_and_refuse_stale_bases(model: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness(model, tmp_path, rounds={"mode": "async", "target": 2, "min_quorum": 1, "max_staleness": 1})
        a, b, c, d = await h.enroll(4)
        old, stale = await h.task(a), await h.task(d)
        deltas = {}
        for device in (b, c):  # two fresh updates fill buffer 1 → version 1
            task = await h.task(device)
            body, deltas[device] = h.body(task)
            assert (await h.upload(device, task.task_id, body)).status == "accepted"
        assert h.engine.rounds.version == 1
        body, old_delta = h.body(old)
        await h.upload(a, old.task_id, body)  # staleness 1: weight × 2^-0.5
        task = await h.task(b)
        body, fresh = h.body(task)
        await h.upload(b, task.task_id, body)
        assert h.engine.rounds.version == 2
        w1, w2 = h.weights(1), h.weights(2)
        name = h.specs[0].name
        factor = 2 ** -0.5
        expected = w1[name] + (factor * old_delta[name] + fresh[name]) / (factor + 1)
        np.testing.assert_allclose(w2[name], expected, atol=1e-6)
        body, _ = h.body(stale)
        with pytest.raises(ApiError) as refused:
            await h.upload(d, stale.task_id, body)
        assert refused.value.code == "stale_base"
        h.engine.close()

    run(scenario())


def test_round_below_quorum_is_abandoned_at_the_deadline(model: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness(model, tmp_path, rounds={"target": 3, "min_quorum": 2, "deadline_s": 0.5})
        (a,) = await h.enroll(1)
        task = await h.task(a)
        body, _ = h.body(task)
        await h.upload(a, task.task_id, body)
        await h.engine.tick(_now() + 1.0)
        assert (h.engine.rounds.coordinator.round.number, h.engine.rounds.version) == (2, 0)
        assert h.engine.ledger.rounds()[-1]["outcome"] == "abandoned"
        assert not (tmp_path / "updates" / "round-00000001.log").exists()
        h.engine.close()

    run(scenario())


@pytest.mark.parametrize("aggregation", [{"aggregator": "median"}, {"aggregator": "trimmed_mean", "trim_fraction": 0.34}])
def test_robust_aggregators_ignore_one_outlier(model: Path, tmp_path: Path, aggregation: dict) -> None:
    async def scenario() -> None:
        h = Harness(model, tmp_path, rounds={"target": 3, "min_quorum": 3}, aggregation=aggregation)
        devices = await h.enroll(3)
        for device, scale in zip(devices, (0.01, 0.01, 1000.0)):
            task = await h.task(device)
            body, _ = h.body(task, scale=scale)
            await h.upload(device, task.task_id, body)
        moved = max(float(np.abs(h.weights(1)[s.name] - h.weights(0)[s.name]).max()) for s in h.specs)
        assert 0 < moved < 0.1  # the 1000-scale update would move weights by hundreds
        h.engine.close()

    run(scenario())


@pytest.mark.parametrize("aggregator", ["median", "trimmed_mean"])
def test_robust_aggregators_clip_updates_to_the_configured_norm(model: Path, tmp_path: Path, aggregator: str) -> None:
    async def scenario() -> None:
        h = Harness(model, tmp_path, rounds={"target": 3, "min_quorum": 3},
                    aggregation={"aggregator": aggregator, "clip_norm": 1e-3})
        for device in await h.enroll(3):
            task = await h.task(device)
            body, _ = h.body(task, scale=10.0)
            await h.upload(device, task.task_id, body)
        moved = max(float(np.abs(h.weights(1)[s.name] - h.weights(0)[s.name]).max()) for s in h.specs)
        assert 0 < moved <= 1e-3 * 1.0001  # unclipped, scale-10 updates would move weights by tens
        h.engine.close()

    run(scenario())


def test_norm_bound_rejects_and_counts(model: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness(model, tmp_path, training={"norm_bound": 1.0})
        (a,) = await h.enroll(1)
        task = await h.task(a)
        body, _ = h.body(task, scale=1.0)
        with pytest.raises(ApiError) as refused:
            await h.upload(a, task.task_id, body)
        assert refused.value.code == "invalid_update" and "exceeds the bound" in refused.value.message
        assert h.engine.metrics.value("fedlite_updates_rejected_total", reason="norm_exceeded") == 1
        assert h.engine.rounds.accumulator.count == 0
        h.engine.close()

    run(scenario())


def test_differential_privacy_records_epsilon(model: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness(model, tmp_path, rounds={"target": 2, "min_quorum": 2},
                    privacy={"noise_multiplier": 1.0, "clip_norm": 0.5, "population": 100})
        for device in await h.enroll(2):
            task = await h.task(device)
            body, _ = h.body(task)
            await h.upload(device, task.task_id, body)
        record = h.engine.ledger.rounds()[-1]
        assert record["outcome"] == "published" and record["epsilon"] > 0
        h.engine.close()

    run(scenario())


def test_restart_rebuilds_the_open_round_and_resumes_strategy_state(model: Path, tmp_path: Path) -> None:
    sections = {"rounds": {"target": 2, "min_quorum": 2}, "aggregation": {"strategy": "fedavgm"}}

    async def first_life() -> list:
        h = Harness(model, tmp_path, **sections)
        devices = await h.enroll(4)
        for device in devices[:2]:
            task = await h.task(device)
            await h.upload(device, task.task_id, h.body(task)[0])
        task = await h.task(devices[2])
        body, delta = h.body(task)
        await h.upload(devices[2], task.task_id, body)
        h.engine.close()
        return [devices, task, body, delta, h.engine.rounds.aggregator.state_bytes()]

    devices, task, body, delta, state = run(first_life())

    async def second_life() -> None:
        h = Harness(model, tmp_path, **sections)
        assert h.engine.rounds.accumulator.count == 1 and h.engine.rounds.version == 1
        assert h.engine.rounds.aggregator.state_bytes() == state
        assert (await h.upload(devices[2], task.task_id, body)).status == "duplicate"
        other = await h.task(devices[3])
        await h.upload(devices[3], other.task_id, h.body(other)[0])
        assert h.engine.rounds.version == 2
        h.engine.close()

    run(second_life())


def test_eligibility_rules_steer_devices_to_wait(model: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness(model, tmp_path, devices={"require_charging": True},
                    rounds={"retry_min_s": 30, "retry_max_s": 90})
        (a,) = await h.enroll(1)
        unplugged = p.CheckinRequest(p.Eligibility(False, True, True), None, None, "0.1.0", "test")
        answer = await h.engine.checkin(a, unplugged, _now())
        assert answer == p.WaitResponse(30, 90, "not_eligible")
        assert isinstance(await h.engine.checkin(a, CHECKIN, _now()), p.TrainResponse)
        h.engine.close()

    run(scenario())
