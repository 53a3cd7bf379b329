"""Server ingest: many concurrent devices upload int8 deltas of a 100,000-parameter model.

Everything below is measured in one run, on one machine:

* **Ingest.** The real server (``fedlite serve``: uvicorn, TLS on loopback, SQLite ledger, group
  commit with fdatasync) runs in async (FedBuff) mode with a buffer larger than the run, so every
  update lands in one round and its memory must stay flat while updates pile up.
  ``--processes`` load-generator processes keep ``--devices`` keep-alive TLS connections busy;
  each device loops check-in → upload. An upload's meta must name its task, so each body is the
  pre-encoded records re-framed with a new meta and CRC-32; every request carries a fresh
  signature and nonce. Reported: accepted (202) uploads per second of the measured window,
  upload latency, errors (any other answer or a failed connection), the server's peak RSS, and
  the CPU seconds the server and the load generators spent in the window (they share the
  machine's cores; the generators' share is printed).
* **Decode-and-accumulate**, in this process before the server starts: the loops below run on
  the same 8 distinct int8 updates in rotation, interleaved over ``TRIALS`` trials (the best
  trial is printed, best and median are in the JSON), each counting 4 bytes (one float32
  decoded value) per parameter per update, so every rate is in the same unit:
  ``aggregate_gbps``: ``UpdateSum.add(update, 32.0)`` of parsed, validated updates (codes and
  scales → weighted float64 sums: the server's per-update accumulate step);
  ``numpy_add_gbps``: ``np.add(sum, x, out=sum)`` of the same updates already decoded to float32,
  into float64 sums of the same tensors (unweighted, so numpy does strictly less work);
  ``ingest_decode_gbps``: ``decode_update`` of the bundle bytes (CRC-32, header and meta parsing,
  validation) plus ``UpdateSum.add``: everything the server does with an update's bytes;
  ``l2_norm_gbps``: ``update.l2_norm`` of parsed updates (what a norm bound or clipping adds).

    python benchmarks/server_ingest.py --json out/server_ingest.json
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import shutil
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
from edge_sdk.wire.accumulate import Scratch  # noqa: E402
from fedlite.model_cache import ensure_model  # noqa: E402

HEADER = 16  # wire-format §1: magic, version, kind, reserved, meta_len, tensor_count
CONNECT_S = 2.0  # devices connect this long before the measured window opens
TRIALS, PER_TRIAL = 15, 20  # decode-and-accumulate: interleaved trials of this many updates each


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
        self.writer.writelines([("\r\n".join(lines) + "\r\n\r\n").encode(), body])
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return status, await self.reader.readexactly(length)


class Framer:
    """Re-frames a template update bundle around another meta object (header, meta, records, CRC-32).

    The records are copied once per body and the CRC of the records is chained from the CRC of
    the new header and meta, so a fresh body costs one pass over its bytes."""

    def __init__(self, template: bytes) -> None:
        meta_len = int.from_bytes(template[8:12], "little")
        self.head, self.count = template[:8], template[12:16]
        self.records = template[HEADER + meta_len:-4]

    def body(self, meta: dict) -> bytes:
        meta_bytes = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
        prefix = self.head + len(meta_bytes).to_bytes(4, "little") + self.count + meta_bytes
        crc = zlib.crc32(self.records, zlib.crc32(prefix))
        return b"".join((prefix, self.records, crc.to_bytes(4, "little")))


# ---------------------------------------------------------------- devices


async def device_loop(index: int, args: dict, framer: Framer, window: tuple[float, float], results: dict) -> None:
    """One device: connect, then from the window's start loop check-in → upload until its end."""
    start_at, stop_at = window
    key = DeviceKey.from_seed(hashlib.sha256(f"bench-device-{index}".encode()).digest())
    device_id = args["device_ids"][index]
    context = ssl.create_default_context(cafile=args["ca"])
    conn = await Connection.open(args["port"], context)
    checkin = json.dumps({"eligibility": {"charging": True, "unmetered": True, "idle": True}, "model_sha256": None,
                          "weights_version": None, "sdk_version": "bench", "runtime": "bench"}).encode()
    await asyncio.sleep(max(0.0, start_at - time.time()))
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
            body = framer.body({"task_id": task["task_id"], "round": task["round"],
                                "base_version": task["base_version"], "num_examples": 32, "metrics": {"loss": 1.0}})
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
    """One load-generator process driving ``indices`` devices; reports its CPU seconds in the window."""
    results = {"latencies": [], "errors": 0, "cpu_s": 0.0}
    framer = Framer(template)

    async def cpu_in_window() -> None:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        started = time.process_time()
        await asyncio.sleep(max(0.0, stop_at - time.time()))
        results["cpu_s"] = time.process_time() - started

    async def main() -> None:
        await asyncio.sleep(max(0.0, start_at - time.time() - CONNECT_S))  # TLS handshakes before the window
        window = (start_at, stop_at)
        await asyncio.gather(cpu_in_window(), *(device_loop(i, args, framer, window, results) for i in indices))

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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- decode-and-accumulate


def accumulate_throughput(specs, bodies: list[bytes]) -> dict[str, dict[str, float]]:
    """GB/s (4 bytes per parameter per update) of the loops of the module docstring: best and median trial."""
    parsed = [decode_update(body, specs) for body in bodies]
    floats = [update.tensors() for update in parsed]
    total = UpdateSum(specs)
    sums = {s.name: np.zeros(s.shape, np.float64) for s in specs}

    def numpy_add(i: int) -> None:
        for name, value in floats[i % len(floats)].items():
            np.add(sums[name], value, out=sums[name])

    scratch = Scratch()
    loops = {"aggregate": lambda i: total.add(parsed[i % len(parsed)], 32.0),
             "numpy_add": numpy_add,
             "ingest_decode": lambda i: total.add(decode_update(bodies[i % len(bodies)], specs), 32.0),
             "l2_norm": lambda i: parsed[i % len(parsed)].l2_norm(scratch)}
    gigabytes = PER_TRIAL * sum(int(np.prod(s.shape)) for s in specs) * 4 / 1e9
    rates: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(TRIALS):
        for name, step in loops.items():
            started = time.perf_counter()
            for i in range(PER_TRIAL):
                step(i)
            rates[name].append(gigabytes / (time.perf_counter() - started))
    return {name: {"best": max(r), "median": statistics.median(r)} for name, r in rates.items()}


# ---------------------------------------------------------------- ingest


def run_ingest(args: argparse.Namespace, model: Path, template: bytes, work: Path) -> dict:
    """Start the server, enrol the devices, drive them for the window; the raw measurements."""
    server, port, ca = start_server(model, work / "data")
    try:
        shared = {"port": port, "ca": ca, "device_ids": enroll_all(port, ca, work / "data", args.devices)}
        start_at = time.time() + CONNECT_S + 1.0
        stop_at = start_at + args.seconds
        queue: multiprocessing.Queue = multiprocessing.Queue()
        chunks = [list(range(args.devices))[k::args.processes] for k in range(args.processes)]
        workers = [multiprocessing.Process(target=generator_process,
                                           args=(chunk, shared, template, start_at, stop_at, queue))
                   for chunk in chunks]
        for worker in workers:
            worker.start()
        time.sleep(max(0.0, start_at - time.time()))
        server_cpu, load = cpu_seconds(server.pid), os.getloadavg()[0]
        samples = []  # (seconds into the run, server RSS MB, updates counted in the round)
        while time.time() < stop_at - 0.5:
            time.sleep(1.0)
            samples.append((time.time() - start_at, rss_mb(server.pid), counted(port, ca)))
        server_cpu = cpu_seconds(server.pid) - server_cpu
        results = [queue.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join()
        peak = rss_mb(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait(30)
    return {"results": results, "samples": samples, "server_cpu_s": server_cpu, "peak_rss_mb": peak,
            "load_average_1m": load}


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    model, _ = ensure_model("mlp100k")  # fedlite.examples.mlp100k, converted once and cached
    work = Path(tempfile.mkdtemp(prefix="fedlite-ingest-"))
    specs = read_manifest(model.read_bytes()).trainable_weights
    params = sum(int(np.prod(s.shape)) for s in specs)

    def template_for(seed: int) -> bytes:
        rng = np.random.default_rng(seed)
        delta = {s.name: rng.normal(0, 0.01, s.shape).astype(np.float32) for s in specs}
        meta = {"task_id": "t", "round": 1, "base_version": 0, "num_examples": 32, "metrics": {}}
        return encode_update(delta, "int8", seed=seed + 1, meta=meta)[0]

    templates = [template_for(seed) for seed in range(8)]
    throughput = accumulate_throughput(specs, templates)
    try:
        run = run_ingest(args, model, templates[0], work)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the round's update log: about 100 kB per accepted update
    report, details = summarise(args, run, throughput, params, len(templates[0]))
    print_table(args, report, details)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**report, "details": details}, indent=2))
    return 0


def summarise(args: argparse.Namespace, run: dict, throughput: dict, params: int,
              update_bytes: int) -> tuple[dict, dict]:
    """The JSON report (headline numbers) and its details."""
    latencies = sorted(x for r in run["results"] for x in r["latencies"])
    client_cpu = sum(r["cpu_s"] for r in run["results"])
    report = {
        "updates_per_s": len(latencies) / args.seconds,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
        "errors": sum(r["errors"] for r in run["results"]),
        "server_rss_mb": run["peak_rss_mb"],
        "aggregate_gbps": throughput["aggregate"]["best"],
        "numpy_add_gbps": throughput["numpy_add"]["best"],
        "ingest_decode_gbps": throughput["ingest_decode"]["best"],
        "l2_norm_gbps": throughput["l2_norm"]["best"],
        "server_cpu_s": run["server_cpu_s"],
        "client_cpu_s": client_cpu,
        "client_cpu_share": client_cpu / max(1e-9, client_cpu + run["server_cpu_s"]),
    }
    details = {"devices": args.devices, "seconds": args.seconds, "parameters": params,
               "accepted_updates": len(latencies), "update_bytes": update_bytes, "cpus": os.cpu_count(),
               "load_average_1m_at_start": run["load_average_1m"], "throughput_gbps": throughput,
               "server_cpu_ms_per_update": 1000 * run["server_cpu_s"] / max(1, len(latencies)),
               "client_cpu_ms_per_update": 1000 * client_cpu / max(1, len(latencies)),
               "rss_samples": [{"t": round(t, 1), "rss_mb": round(r, 1), "updates_in_round": n}
                               for t, r, n in run["samples"]]}
    return report, details


def print_table(args: argparse.Namespace, report: dict, details: dict) -> None:
    samples = details["rss_samples"]
    early = next(sample for sample in samples if sample["t"] >= args.seconds / 4)
    print(f"server ingest: {args.devices} devices, {details['parameters']:,}-parameter model, int8 updates of "
          f"{details['update_bytes']:,} bytes, {args.seconds:g} s over HTTPS on loopback "
          f"(load average {details['load_average_1m_at_start']:.2f} on {details['cpus']} CPUs)")
    numpy_gbps = report["numpy_add_gbps"]
    rows = [("accepted updates/s", f"{report['updates_per_s']:.1f}", "target >= 300"),
            ("upload latency p50 / p99", f"{report['p50_ms']:.1f} / {report['p99_ms']:.1f} ms", ""),
            ("errors", str(report["errors"]), "target 0"),
            ("server peak RSS", f"{report['server_rss_mb']:.0f} MB",
             f"{early['rss_mb']:.0f} MB at {early['updates_in_round']} updates in the round, "
             f"{samples[-1]['rss_mb']:.0f} MB at {samples[-1]['updates_in_round']}"),
            ("CPU server / generators", f"{report['server_cpu_s']:.1f} / {report['client_cpu_s']:.1f} s",
             f"generators {100 * report['client_cpu_share']:.0f}%; per update "
             f"{details['server_cpu_ms_per_update']:.2f} / {details['client_cpu_ms_per_update']:.2f} ms"),
            ("decode + accumulate", f"{report['aggregate_gbps']:.2f} GB/s",
             f"{100 * report['aggregate_gbps'] / numpy_gbps:.0f}% of numpy (UpdateSum.add, parsed update)"),
            ("bytes → sums", f"{report['ingest_decode_gbps']:.2f} GB/s",
             f"{100 * report['ingest_decode_gbps'] / numpy_gbps:.0f}% of numpy (decode_update + add)"),
            ("L2 norm (norm bound)", f"{report['l2_norm_gbps']:.2f} GB/s",
             f"{100 * report['l2_norm_gbps'] / numpy_gbps:.0f}% of numpy (update.l2_norm, parsed update)"),
            ("numpy in-place add", f"{numpy_gbps:.2f} GB/s", "baseline (float32 into float64)")]
    for name, value, note in rows:
        print(f"  {name:<26} {value:>20}   {note}")


if __name__ == "__main__":
    raise SystemExit(main())
