"""The parity check: the same batches through TensorFlow (the Keras model, TF autodiff and the
equivalent Keras optimizer) and through the TFLite interpreter must give the same losses,
evaluation counts and weights. For models with Flex ops, which no Python TFLite runtime can run,
the exported TensorFlow graph stands in for the interpreter (and the report says so)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from converters.graph import ModelGraph
from converters.losses import Loss
from converters.optimizers import Optimizer
from edge_sdk.model import PLACEHOLDER_INPUT

STEPS = 3
LOSS_RTOL = 1e-4  # |Δloss| ≤ LOSS_RTOL · max(1, |loss|)
WEIGHT_RTOL = 1e-3  # |Δw| ≤ WEIGHT_ATOL + WEIGHT_RTOL · max |w_tf − w_initial| per tensor
WEIGHT_ATOL = 1e-6


@dataclass(frozen=True)
class ParityReport:
    """Worst differences seen over ``steps`` train steps (the last with a partly masked batch)."""

    steps: int
    runtime: str
    max_loss_diff: float
    max_weight_diff: float
    worst_weight: str
    correct_matches: bool
    passed: bool
    tolerance: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def random_batches(graph: ModelGraph, loss: Loss, batch: int, seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``STEPS`` (x, y, mask) batches of random data matching the signatures."""
    rng = np.random.default_rng(seed)
    batches = []
    for step in range(STEPS):
        if graph.input_dtype == "int32":
            x = rng.integers(0, graph.vocabulary_size or 2, size=(batch, *graph.input_shape)).astype(np.int32)
        else:
            x = rng.uniform(0, 1, size=(batch, *graph.input_shape)).astype(np.float32)
        mask = np.ones(batch, np.float32)
        if step == STEPS - 1:
            mask[batch // 2 + 1:] = 0.0
        batches.append((x, _random_labels(rng, loss, batch, graph.output_shape), mask))
    return batches


def _random_labels(rng: np.random.Generator, loss: Loss, batch: int, output_shape: tuple[int, ...]) -> np.ndarray:
    classes = loss.num_outputs
    if loss.name == "sparse_categorical_crossentropy":
        return rng.integers(0, classes, size=batch).astype(np.int32)
    if loss.name == "categorical_crossentropy":
        return np.eye(classes, dtype=np.float32)[rng.integers(0, classes, size=batch)]
    if loss.name == "binary_crossentropy":
        return rng.integers(0, 2, size=(batch, *output_shape)).astype(np.float32)
    return rng.normal(size=(batch, *output_shape)).astype(np.float32)


def reference_run(model: Any, graph: ModelGraph, loss: Loss, optimizer: Optimizer, batches: list) -> dict[str, Any]:
    """Losses, correct counts and final weights from TensorFlow for ``batches`` (the model's
    weights are restored afterwards)."""
    import keras
    import tensorflow as tf

    by_path = {v.path: v for v in model.weights}
    names = [w.name for w in graph.trainable]
    variables = [by_path[w.keras_path] for w in graph.trainable]
    keras_loss = keras.losses.get(loss.name)
    keras_optimizer = optimizer.keras()
    kwargs = {} if loss.name == "mse" else {"from_logits": loss.from_logits}

    @tf.function
    def step(x, y, mask, apply):
        with tf.GradientTape() as tape:
            out = model(x, training=False)
            rows = keras_loss(y, out, **kwargs)
            rows = tf.reshape(rows, [rows.shape[0], -1])
            value = tf.reduce_sum(tf.reduce_mean(rows, -1) * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)
        if apply:
            keras_optimizer.apply(tape.gradient(value, variables), variables)
        return value, out

    saved = [v.numpy() for v in model.weights]
    try:
        losses = [float(step(x, y, mask, True)[0]) for x, y, mask in batches]
        _, final_out = step(*batches[0], False)
        weights = {name: v.numpy().copy() for name, v in zip(names, variables)}
    finally:  # leave the caller's model as it was
        for variable, value in zip(model.weights, saved):
            variable.assign(value)
    return {"losses": losses, "weights": weights, "correct": _correct(loss, final_out.numpy(), *batches[0][1:])}


def _correct(loss: Loss, out: np.ndarray, y: np.ndarray, mask: np.ndarray) -> float | None:
    out = out.reshape(len(out), -1)
    if loss.name == "sparse_categorical_crossentropy":
        return float(((out.argmax(-1) == y) * mask).sum())
    if loss.name == "categorical_crossentropy":
        return float(((out.argmax(-1) == y.argmax(-1)) * mask).sum())
    if loss.name == "binary_crossentropy":
        threshold = 0.0 if loss.from_logits else 0.5
        return float((((out > threshold) == (y.reshape(out.shape) > 0.5)).mean(-1) * mask).sum())
    return None


def signature_run(runner: Any, batches: list, available: Any) -> dict[str, Any]:
    """Train on ``batches`` with Dropout off (the reference runs Keras in inference mode), then
    evaluate the first one, through ``runner(name)(**inputs)``; ``available`` names the signatures."""
    if "set_dropout" in available:
        runner("set_dropout")(enabled=np.array(0.0, np.float32))
    train = runner("train")
    losses = [float(train(x=x, y=y, mask=mask)["loss"]) for x, y, mask in batches]
    result = runner("evaluate")(x=batches[0][0], y=batches[0][1], mask=batches[0][2])
    raw = runner("get_weights")(**{PLACEHOLDER_INPUT: np.zeros(1, np.float32)})
    weights = {name: np.asarray(value) for name, value in raw.items()}
    correct = float(result["correct"]) if "correct" in result else None
    return {"losses": losses, "weights": weights, "correct": correct}


def tflite_run(model_bytes: bytes, batches: list) -> tuple[dict[str, Any], str]:
    """The run through the TFLite interpreter of ``edge_sdk.runtime``."""
    from edge_sdk.runtime import open_interpreter

    interpreter, info = open_interpreter(model_bytes)
    return signature_run(interpreter.get_signature_runner, batches, interpreter.get_signature_list()), str(info)


def graph_run(signatures: dict[str, Any], batches: list) -> tuple[dict[str, Any], str]:
    """The run through the exported TensorFlow graph itself, for models with Flex ops (the Python
    TFLite runtimes ship no Flex delegate)."""
    import tensorflow as tf

    def runner(name: str) -> Any:
        return lambda **inputs: signatures[name](**{k: tf.constant(v) for k, v in inputs.items()})

    return signature_run(runner, batches, signatures), f"tensorflow {tf.__version__} (exported graph; no Flex-enabled TFLite runtime)"


def compare(reference: dict[str, Any], tflite: dict[str, Any], initial: dict[str, np.ndarray], runtime: str) -> ParityReport:
    """Judge a TFLite run against the TensorFlow reference with the stated tolerances."""
    loss_diffs = [abs(a - b) / max(1.0, abs(a)) for a, b in zip(reference["losses"], tflite["losses"])]
    worst, worst_excess, worst_diff = "", -np.inf, 0.0
    for name, expected in reference["weights"].items():
        diff = float(np.abs(tflite["weights"][name] - expected).max())
        allowed = WEIGHT_ATOL + WEIGHT_RTOL * float(np.abs(expected - initial[name]).max())
        if diff - allowed > worst_excess:
            worst, worst_excess, worst_diff = name, diff - allowed, diff
    expected, got = reference["correct"], tflite["correct"]
    correct_ok = expected == got or (None not in (expected, got) and abs(expected - got) <= 1e-4 * max(1.0, expected))
    passed = max(loss_diffs) <= LOSS_RTOL and worst_excess <= 0 and correct_ok
    tolerance = (f"loss rtol {LOSS_RTOL:g}; weights |Δ| ≤ {WEIGHT_ATOL:g} + {WEIGHT_RTOL:g}·|update|; "
                 "correct counts equal")
    return ParityReport(STEPS, runtime, max(loss_diffs), worst_diff, worst, correct_ok, passed, tolerance)


def check_parity(model: Any, graph: ModelGraph, loss: Loss, optimizer: Optimizer, batch: int,
                 model_bytes: bytes, flex_signatures: dict[str, Any] | None = None, seed: int = 0) -> ParityReport:
    """Run both sides on the same random batches and compare. Models with Flex ops pass the
    exported concrete functions as ``flex_signatures``: they run in place of the interpreter."""
    batches = random_batches(graph, loss, batch, seed)
    initial = {w.name: w.value for w in graph.variables}
    if flex_signatures is None:
        tflite, runtime = tflite_run(model_bytes, batches)
    else:
        tflite, runtime = graph_run(flex_signatures, batches)
    reference = reference_run(model, graph, loss, optimizer, batches)
    return compare(reference, tflite, initial, runtime)
