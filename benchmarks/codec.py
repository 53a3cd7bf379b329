"""Update codec benchmark: bytes on the wire, error and speed of every preset on a 1M-parameter delta.

    python benchmarks/codec.py [--json FILE] [--repeats N]

Single-threaded (thread counts are pinned before numpy loads). The delta has the layer shapes of
a small CNN and heavy-tailed values (Student-t, 3 degrees of freedom, with per-layer and
per-output-unit scales). Times are the best of ``--repeats`` runs; ``fp32`` and a plain float32
copy are the baselines measured in the same run. Bits per parameter count every byte of the
bundle (header, metadata, tensor headers, scales, indices, CRC). Speeds are CPU time of this
single-threaded process (immune to other processes competing for the cores); wall-clock times are
reported alongside.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_sdk.wire import PRESETS, decode_update, encode_update  # noqa: E402

LAYERS = {  # name → shape: conv 5x5 → conv 5x5 → dense 3136x300 → dense 300x22
    "conv1/kernel": (5, 5, 1, 32),
    "conv1/bias": (32,),
    "conv2/kernel": (5, 5, 32, 64),
    "conv2/bias": (64,),
    "dense1/kernel": (3136, 300),
    "dense1/bias": (300,),
    "dense2/kernel": (300, 22),
    "dense2/bias": (22,),
}
NOMINAL_BITS = {"int8": 8, "int4": 4, "rot-int4": 4, "rot-int2": 2, "rot-2bit": 2, "rot-1bit": 1}
NOMINAL_TOLERANCE = 0.02
ROT_1BIT_LIMIT = 1.05
ENCODE_LIMIT_MS = {"int8": 50.0, "rot-1bit": 50.0}


def make_delta(seed: int = 0) -> dict[str, np.ndarray]:
    """A heavy-tailed delta: t(3) noise × per-layer scale × log-normal per-output-unit scale."""
    rng = np.random.default_rng(seed)
    delta = {}
    for name, shape in LAYERS.items():
        layer_scale = 10.0 ** rng.uniform(-3.5, -2.0)
        unit_scale = np.exp(rng.normal(0.0, 0.75, size=shape[-1]))
        delta[name] = (rng.standard_t(3, size=shape) * unit_scale * layer_scale).astype(np.float32)
    return delta


def best_ms(action: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best (CPU, wall) time of ``repeats`` runs, in milliseconds."""
    cpu, wall = [], []
    for _ in range(repeats):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        action()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return 1000.0 * min(cpu), 1000.0 * min(wall)


def measure(name: str, delta: dict[str, np.ndarray], specs: list, repeats: int) -> dict:
    """One preset's row: size, error, encode and decode time per million parameters."""
    params = sum(v.size for v in delta.values())
    residual = {k: np.zeros_like(v) for k, v in delta.items()}
    meta = {"model_id": "bench-cnn", "round": 7, "base_version": 6, "num_examples": 1200}
    data, _ = encode_update(delta, name, seed=1, meta=meta, residual=residual)
    decoded = decode_update(data, specs).tensors()
    err = sum(float(np.sum((decoded[k].astype(np.float64) - v) ** 2)) for k, v in delta.items())
    energy = sum(float(np.sum(v.astype(np.float64) ** 2)) for v in delta.values())
    per_mparam = 1e6 / params
    encode_ms = best_ms(lambda: encode_update(delta, name, seed=1, meta=meta, residual=residual), repeats)
    decode_ms = best_ms(lambda: decode_update(data, specs).tensors(), repeats)
    row = {
        "name": name,
        "bytes": len(data),
        "bits_per_param": 8.0 * len(data) / params,
        "rel_mse": err / energy,
        "encode_ms_per_mparam": encode_ms[0] * per_mparam,
        "decode_ms_per_mparam": decode_ms[0] * per_mparam,
        "encode_wall_ms_per_mparam": encode_ms[1] * per_mparam,
        "decode_wall_ms_per_mparam": decode_ms[1] * per_mparam,
    }
    row["checks"] = checks(row)
    return row


def checks(row: dict) -> dict[str, bool]:
    """The targets that apply to this preset, each with whether it was met."""
    name, result = row["name"], {}
    if name in NOMINAL_BITS:
        result["bits_within_2pct_of_nominal"] = row["bits_per_param"] <= NOMINAL_BITS[name] * (1 + NOMINAL_TOLERANCE)
    if name == "rot-1bit":
        result["bits_at_most_1.05"] = row["bits_per_param"] <= ROT_1BIT_LIMIT
    if name in ENCODE_LIMIT_MS:
        result["encode_at_most_50ms_per_mparam"] = row["encode_ms_per_mparam"] <= ENCODE_LIMIT_MS[name]
    return result


def copy_baseline_ms(delta: dict[str, np.ndarray], repeats: int) -> float:
    """A plain float32 copy of the whole delta, per million parameters: the machine's floor."""
    params = sum(v.size for v in delta.values())
    return best_ms(lambda: [v.copy() for v in delta.values()], repeats)[0] * 1e6 / params


def print_table(rows: list[dict], params: int, copy_ms: float) -> None:
    print(f"update codecs on a {params:,}-parameter delta (single thread; copy baseline {copy_ms:.2f} ms/Mparam)")
    print(f"{'preset':<18}{'bytes':>10}{'bits/param':>12}{'rel MSE':>11}{'enc ms/M':>10}{'dec ms/M':>10}  targets")
    for row in rows:
        marks = ", ".join(f"{k}: {'ok' if v else 'MISSED'}" for k, v in row["checks"].items())
        print(
            f"{row['name']:<18}{row['bytes']:>10,}{row['bits_per_param']:>12.4f}{row['rel_mse']:>11.2e}"
            f"{row['encode_ms_per_mparam']:>10.1f}{row['decode_ms_per_mparam']:>10.1f}  {marks}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per measurement (best is kept)")
    args = parser.parse_args(argv)
    delta = make_delta()
    specs = [SimpleNamespace(name=k, shape=v.shape) for k, v in delta.items()]
    params = sum(v.size for v in delta.values())
    copy_ms = copy_baseline_ms(delta, args.repeats)
    rows = [measure(name, delta, specs, args.repeats) for name in PRESETS]
    print_table(rows, params, copy_ms)
    if args.json:
        report = {
            "params": params,
            "threads": 1,
            "repeats": args.repeats,
            "numpy": np.__version__,
            "machine": platform.machine(),
            "copy_baseline_ms_per_mparam": copy_ms,
            "codecs": rows,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(all(row["checks"].values()) for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
