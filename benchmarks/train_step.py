"""Train-step speed: the converted TFLite model vs the same Keras model's ``train_on_batch``.

For the example MLP and CNN at batch 32 this measures, in one run, milliseconds per train step
of the TFLite ``train`` signature (single thread, ai-edge-litert) and of Keras
``train_on_batch`` (TensorFlow, default threads), and the TFLite step's achieved GFLOP/s next
to numpy's single-thread float32 matmul GFLOP/s on the same machine.

FLOPs counted: 2 per multiply-accumulate of every Dense/Conv2D/DepthwiseConv2D in the forward
pass, the weight-gradient pass and the input-gradient pass (none for the first layer);
elementwise work is not counted, so the GFLOP/s figure is a lower bound.

usage: python benchmarks/train_step.py [--json FILE] [--steps N]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # numpy's matmul baseline is single-thread
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

MODELS = ("digits_mlp", "digits_cnn")  # recipes of fedlite.model_cache, both converted for batch BATCH
BATCH = 32


def timed_ms(steps: dict[str, Callable[[], object]], calls: int, repeats: int = 7) -> dict[str, float]:
    """Median over ``repeats`` rounds of the mean ms per call of each step; the steps take turns
    within every round so a change in machine load affects all of them alike."""
    for step in steps.values():
        for _ in range(max(3, calls // 10)):
            step()
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(calls):
                step()
            samples[name].append((time.perf_counter() - start) * 1000 / calls)
    return {name: statistics.median(values) for name, values in samples.items()}


def train_step_flops(model) -> float:
    """FLOPs of one train step (see the module docstring for what is counted)."""
    total = 0.0
    for index, layer in enumerate(layer for layer in model.layers if layer.weights):
        kind, out = type(layer).__name__, layer.output.shape
        if kind == "Dense":
            macs = BATCH * layer.input.shape[-1] * out[-1]
        elif kind in ("Conv2D", "DepthwiseConv2D"):
            kh, kw, channels_in = *layer.kernel_size, layer.input.shape[-1]
            per_output = kh * kw * (channels_in if kind == "Conv2D" else 1)
            macs = BATCH * out[1] * out[2] * out[3] * per_output
        else:
            continue
        total += 2 * macs * (2 if index == 0 else 3)
    return total


def matmul_gflops(size: int = 512, steps: int = 20) -> float:
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((size, size), dtype=np.float32)
    return 2 * size**3 / timed_ms({"matmul": lambda: a @ b}, steps)["matmul"] / 1e6


def measure(name: str, steps: int) -> dict:
    import keras

    from converters import ConvertOptions
    from edge_sdk.runtime import open_interpreter
    from fedlite import examples
    from fedlite.model_cache import RECIPES, ensure_model

    x_train, y_train, _, _ = examples.load_digits_split(seed=0)
    x, y, mask = x_train[:BATCH], y_train[:BATCH], np.ones(BATCH, np.float32)
    converted = ensure_model(name)[0].read_bytes()
    model = getattr(examples, name)()  # the same builder and seed: the converted model's initial weights
    options = ConvertOptions(**RECIPES[name])
    interpreter, runtime = open_interpreter(converted, num_threads=1)
    train = interpreter.get_signature_runner("train")
    model.compile(optimizer=options.make_optimizer().keras(), loss=keras.losses.SparseCategoricalCrossentropy())
    times = timed_ms({"tflite": lambda: train(x=x, y=y, mask=mask), "keras": lambda: model.train_on_batch(x, y)}, steps)
    tflite_ms, keras_ms = times["tflite"], times["keras"]
    flops = train_step_flops(model)
    return {"name": name, "runtime": str(runtime), "tflite_ms": tflite_ms, "keras_ms": keras_ms,
            "ratio": tflite_ms / keras_ms, "gflops": flops / tflite_ms / 1e6, "train_step_mflop": flops / 1e6,
            "model_bytes": len(converted)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--steps", type=int, default=200, help="train steps per timed block (default 200)")
    args = parser.parse_args(argv)
    baseline = matmul_gflops()
    rows = [{**measure(name, args.steps), "matmul_gflops": baseline} for name in MODELS]
    print(f"{'model':<11} {'tflite ms':>9} {'keras ms':>9} {'ratio':>6} {'MFLOP':>7} {'GFLOP/s':>8} {'numpy matmul GFLOP/s':>21}")
    for row in rows:
        print(f"{row['name']:<11} {row['tflite_ms']:>9.3f} {row['keras_ms']:>9.3f} {row['ratio']:>6.2f} "
              f"{row['train_step_mflop']:>7.2f} {row['gflops']:>8.2f} {row['matmul_gflops']:>21.1f}")
    print(f"runtime: {rows[0]['runtime']} (1 thread); target: ratio <= 0.5 -> "
          f"{'met' if all(r['ratio'] <= 0.5 for r in rows) else 'NOT met'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"batch_size": BATCH, "models": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
