"""Server ingest: many concurrent devices upload int8 deltas of a 100,000-parameter model.

The real server (``fedlite serve``, uvicorn, TLS on loopback) runs in async (FedBuff) mode with a
buffer larger than the run, so every update lands in one round: its memory must stay flat while
updates pile up. Load-generator processes keep ``--devices`` keep-alive TLS connections busy,
each device looping check-in → upload. In the same run, decode-and-accumulate throughput
(``UpdateSum.add`` of int8 updates) is measured against numpy's in-place add of the same data.

    python benchmarks/server_ingest.py --json out/server_ingest.json
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge_sdk.signing import DeviceKey, sign_request  # noqa: E402
from edge_sdk.wire import UpdateSum, decode_update, encode_update, read_manifest  # noqa: E402

HEADER = 16  # wire-format §1: magic, version, kind, reserved, meta_len, tensor_count


# ---------------------------------------------------------------- the model


def build_model(directory: Path) -> Path:
    """A converted 100,042-parameter MLP (32 → 1024 → 64 → 10), cached in ``directory``."""
    path = directory / "mlp100k.tflite"
    if path.exists():
        return path
    code = (
        "import keras, sys; from converters.convert import ConvertOptions, convert_file\n"
        "m = keras.Sequential([keras.Input((32,)), keras.layers.Dense(1024, activation='relu'),"
        " keras.layers.Dense(64, activation='relu'), keras.layers.Dense(10, activation='softmax')], name='mlp100k')\n"
        "m.save(sys.argv[1] + '.keras')\n"
        "convert_file(sys.argv[1] + '.keras', sys.argv[1], ConvertOptions(loss='sparse_categorical_crossentropy'))\n"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, env=env, capture_output=True)
    return path


# ---------------------------------------------------------------- a minimal HTTP/1.1 client


class Connection:
    """One keep-alive TLS connection speaking just enough HTTP/1.1 (no library overhead)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, context: ssl.SSLContext) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, limit=1 << 20)
        return cls(reader, writer)

    async def request(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return status, await self.reader.readexactly(length)


def reframe(template: bytes, meta: dict) -> bytes:
    """The template update bundle with another meta object (header, meta, records, CRC-32)."""
    meta_len = int.from_bytes(template[8:12], "little")
    records = template[HEADER + meta_len:-4]
    meta_bytes = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    head = template[:8] + len(meta_bytes).to_bytes(4, "little") + template[12:16]
    body = head + meta_bytes + records
    return body + zlib.crc32(body).to_bytes(4, "little")


# ---------------------------------------------------------------- devices


async def device_loop(index: int, args: dict, template: bytes, stop_at: float, results: dict) -> None:
    key = DeviceKey.from_seed(hashlib.sha256(f"bench-device-{index}".encode()).digest())
    device_id = args["device_ids"][index]
    context = ssl.create_default_context(cafile=args["ca"])
    conn = await Connection.open(args["port"], context)
    checkin = json.dumps({"eligibility": {"charging": True, "unmetered": True, "idle": True}, "model_sha256": None,
                          "weights_version": None, "sdk_version": "bench", "runtime": "bench"}).encode()
    while time.time() < stop_at:
        try:
            headers = sign_request(key, "POST", "/v1/checkin", checkin, device_id)
            status, answer = await conn.request("POST", "/v1/checkin", {**headers, "Content-Type": "application/json"},
                                                checkin)
            task = json.loads(answer).get("task")
            if status != 200 or task is None:
                results["errors"] += 1
                await asyncio.sleep(0.5)
                continue
            meta = {"task_id": task["task_id"], "round": task["round"], "base_version": task["base_version"],
                    "num_examples": 32, "metrics": {"loss": 1.0}}
            body = reframe(template, meta)
            url = task["upload"]["url"]
            started = time.perf_counter()
            status, answer = await conn.request("PUT", url, sign_request(key, "PUT", url, body, device_id), body)
            if status == 202 and time.time() < stop_at:
                results["latencies"].append(time.perf_counter() - started)
            elif status != 202:
                results["errors"] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            results["errors"] += 1
            conn = await Connection.open(args["port"], context)


def generator_process(indices: list[int], args: dict, template: bytes, start_at: float, stop_at: float,
                      queue: multiprocessing.Queue) -> None:
    """One load-generator process driving ``indices`` devices."""
    results = {"latencies": [], "errors": 0}

    async def main() -> None:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        await asyncio.gather(*(device_loop(i, args, template, stop_at, results) for i in indices))

    try:
        import uvloop  # C event loop and TLS: the generator should cost the shared CPU as little as possible
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
    queue.put(results)


# ---------------------------------------------------------------- server


def start_server(model: Path, data: Path) -> tuple[subprocess.Popen, int, str]:
    ready = data.parent / "ready.json"
    args = [sys.executable, "-m", "fedlite", "serve", "--model", str(model), "--data-dir", str(data),
            "--port", "0", "--ready-file", str(ready), "--mode", "async", "--round-size", "1000000",
            "--max-staleness", "1000000", "--codec", "int8", "--rate", "1000000", "--deadline", "3600",
            "--retry-min", "0", "--retry-max", "0"]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
    while not ready.exists() or not ready.stat().st_size:
        if server.poll() is not None:
            raise SystemExit("the server failed to start")
        time.sleep(0.1)
    time.sleep(0.5)
    return server, json.loads(ready.read_text())["port"], str(data / "tls" / "server.crt")


def enroll_all(port: int, ca: str, data: Path, count: int) -> list[str]:
    import requests

    from server.ledger import Ledger
    from server.tokens import create_token

    token = Ledger(data / "ledger.sqlite3").write(lambda c: create_token(c, max_uses=count, expires_at=None,
                                                                          now=time.time()))
    session, ids = requests.Session(), []
    for index in range(count):
        key = DeviceKey.from_seed(hashlib.sha256(f"bench-device-{index}".encode()).digest())
        body = json.dumps({"token": token, "public_key": key.public_key_b64, "platform": "bench",
                           "sdk_version": "bench", "runtime": "bench"}).encode()
        headers = {**sign_request(key, "POST", "/v1/enroll", body, None), "Content-Type": "application/json"}
        answer = session.post(f"https://127.0.0.1:{port}/v1/enroll", data=body, headers=headers, verify=ca)
        ids.append(answer.json()["device_id"])
    return ids


def counted(port: int, ca: str) -> int:
    """Updates counted in the server's open round."""
    import requests

    return requests.get(f"https://127.0.0.1:{port}/healthz", verify=ca, timeout=10).json()["accepted"]


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------- decode-and-accumulate


def accumulate_throughput(specs, template_for, repeats: int = 200) -> tuple[float, float]:
    """(GB/s of decoded float32 through UpdateSum.add, GB/s of numpy in-place add of float32)."""
    bodies = [template_for(seed) for seed in range(8)]
    decoded = [decode_update(body, specs) for body in bodies]
    total = UpdateSum(specs)
    elements = sum(int(np.prod(s.shape)) for s in specs)
    started = time.perf_counter()
    for i in range(repeats):
        total.add(decode_update(bodies[i % 8], specs), 1.0)
    codec_s = time.perf_counter() - started
    floats = [decoded[i % 8].tensors() for i in range(8)]
    sums = {s.name: np.zeros(s.shape, np.float64) for s in specs}
    started = time.perf_counter()
    for i in range(repeats):
        for name, value in floats[i % 8].items():
            np.add(sums[name], value, out=sums[name])
    numpy_s = time.perf_counter() - started
    gigabytes = repeats * elements * 4 / 1e9
    return gigabytes / codec_s, gigabytes / numpy_s


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="fedlite-ingest-"))
    model = build_model(Path(os.environ.get("FEDLITE_BENCH_CACHE", REPO / "build")))
    specs = read_manifest(model.read_bytes()).trainable_weights
    params = sum(int(np.prod(s.shape)) for s in specs)

    def template_for(seed: int) -> bytes:
        rng = np.random.default_rng(seed)
        delta = {s.name: rng.normal(0, 0.01, s.shape).astype(np.float32) for s in specs}
        meta = {"task_id": "t", "round": 1, "base_version": 0, "num_examples": 32, "metrics": {}}
        return encode_update(delta, "int8", seed=seed + 1, meta=meta)[0]

    aggregate_gbps, numpy_gbps = accumulate_throughput(specs, template_for)
    server, port, ca = start_server(model, work / "data")
    try:
        device_ids = enroll_all(port, ca, work / "data", args.devices)
        shared = {"port": port, "ca": ca, "device_ids": device_ids}
        start_at = time.time() + 2.0
        stop_at = start_at + args.seconds
        queue: multiprocessing.Queue = multiprocessing.Queue()
        chunks = [list(range(args.devices))[k::args.processes] for k in range(args.processes)]
        workers = [multiprocessing.Process(target=generator_process,
                                           args=(chunk, shared, template_for(0), start_at, stop_at, queue))
                   for chunk in chunks]
        for worker in workers:
            worker.start()
        samples = []  # (seconds into the run, server RSS MB, updates counted in the round)
        while time.time() < stop_at - 0.5:
            time.sleep(1.0)
            samples.append((time.time() - start_at, rss_mb(server.pid), counted(port, ca)))
        results = [queue.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join()
        peak = rss_mb(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait(30)
    latencies = sorted(x for r in results for x in r["latencies"])
    errors = sum(r["errors"] for r in results)
    report = {
        "updates_per_s": len(latencies) / args.seconds,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
        "errors": errors,
        "server_rss_mb": peak,
        "aggregate_gbps": aggregate_gbps,
        "numpy_add_gbps": numpy_gbps,
    }
    early = next(sample for sample in samples if sample[0] >= args.seconds / 4)
    details = {"devices": args.devices, "seconds": args.seconds, "parameters": params,
               "accepted_updates": len(latencies), "update_bytes": len(template_for(0)),
               "rss_samples": [{"t": round(t, 1), "rss_mb": round(r, 1), "updates_in_round": n}
                               for t, r, n in samples]}
    print(f"server ingest: {args.devices} devices, {params:,}-parameter model, int8 updates of "
          f"{details['update_bytes']:,} bytes, {args.seconds:g} s over HTTPS on loopback")
    rows = [("accepted updates/s", f"{report['updates_per_s']:.1f}", "target >= 300"),
            ("upload latency p50 / p99", f"{report['p50_ms']:.1f} / {report['p99_ms']:.1f} ms", ""),
            ("errors", str(errors), "target 0"),
            ("server peak RSS", f"{peak:.0f} MB", f"{early[1]:.0f} MB at {early[2]} updates in the round, "
             f"{samples[-1][1]:.0f} MB at {samples[-1][2]}"),
            ("decode + accumulate", f"{aggregate_gbps:.2f} GB/s", f"{100 * aggregate_gbps / numpy_gbps:.0f}% of numpy"),
            ("numpy in-place add", f"{numpy_gbps:.2f} GB/s", "baseline")]
    for name, value, note in rows:
        print(f"  {name:<26} {value:>20}   {note}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**report, "details": details}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
