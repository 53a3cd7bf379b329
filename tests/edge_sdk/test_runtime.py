"""Runtime loading: the preferred runtime is found, its version reported, and a missing one explained."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk._lazy import MissingDependencyError
from edge_sdk.runtime import RUNTIME_CANDIDATES, load_runtime, open_interpreter


def test_prefers_ai_edge_litert_and_reports_its_version() -> None:
    from importlib import metadata

    module, info = load_runtime()
    assert info.module == "ai_edge_litert.interpreter" and module.__name__ == info.module
    assert info.version == metadata.version("ai-edge-litert")
    assert str(info) == f"ai-edge-litert {info.version}"


def test_falls_back_in_order() -> None:
    candidates = (("no_such_runtime_module", "nothing"), *RUNTIME_CANDIDATES[1:])
    module, info = load_runtime(candidates)
    assert info.module in ("tflite_runtime.interpreter", "tensorflow.lite.python.interpreter")
    assert hasattr(module, "Interpreter")


def test_missing_runtime_says_what_to_install() -> None:
    with pytest.raises(MissingDependencyError, match="pip install ai-edge-litert") as info:
        load_runtime((("no_such_runtime_a", "a"), ("no_such_runtime_b", "b")))
    assert "no_such_runtime_a, no_such_runtime_b" in str(info.value)


def test_open_interpreter_runs_a_converted_model(digits_mlp_tflite) -> None:
    interpreter, info = open_interpreter(digits_mlp_tflite.read_bytes(), num_threads=1)
    assert info.distribution == "ai-edge-litert"
    out = interpreter.get_signature_runner("infer")(x=np.zeros((32, 8, 8, 1), np.float32))["output"]
    assert out.shape == (32, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
