"""UpdateSum: weighted float64 sums of decoded updates, rotation undone once, memory O(model)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from edge_sdk.wire import UpdateSum, decode_update, encode_update
from tests.wire.codec_helpers import Spec, heavy_tailed, specs_of

SPECS = specs_of(heavy_tailed(0))


def update(codec: str, seed: int, rotation_seed: int | None = None):
    data, _ = encode_update(heavy_tailed(seed), codec, seed=seed, rotation_seed=rotation_seed, meta={"seed": seed})
    return decode_update(data, SPECS)


def direct_sum(pairs) -> dict[str, np.ndarray]:
    """Σ weight × (float32 decoded tensor), in float64: what UpdateSum must agree with."""
    return {s.name: sum(w * u[s.name].astype(np.float64) for u, w in pairs) for s in SPECS}


def assert_close(result: dict, expected: dict) -> None:
    assert list(result) == list(expected)
    for name in expected:
        assert result[name].dtype == np.float64 and result[name].shape == expected[name].shape
        np.testing.assert_allclose(
            result[name], expected[name], rtol=0, atol=1e-6 * float(np.max(np.abs(expected[name]))) + 1e-12
        )


def test_mixed_codecs_and_rotations_sum_like_their_decoded_tensors() -> None:
    pairs = [
        (update("fp32", 1), 3.0),
        (update("int8", 2), 1.5),
        (update("rot-1bit", 3, 77), 2.0),
        (update("rot-1bit", 4, 77), 1.0),
        (update("rot-1bit", 5, 78), 0.5),
        (update("topk-10pct-int8", 6), 4.0),
        (update("randk-10pct-int8", 7), 1.0),
        (update("rot-int2", 8, 77), 2.5),
    ]
    total = UpdateSum(SPECS)
    for u, w in pairs:
        total.add(u, w)
    assert total.count == len(pairs) and total.total_weight == sum(w for _, w in pairs)
    assert_close(total.result(), direct_sum(pairs))


def test_shared_rotation_is_summed_in_the_rotated_domain_and_undone_once() -> None:
    pairs = [(update("rot-2bit", seed, 9), 1.0 + seed) for seed in range(4)]
    total = UpdateSum(SPECS)
    for u, w in pairs:
        total.add(u, w)
    sums = total._sums["dense/kernel"]
    assert sums.rotated is not None and sums.plain is None  # one accumulator, never un-rotated per update
    assert_close(total.result(), direct_sum(pairs))


def test_result_is_repeatable_and_adding_continues() -> None:
    total = UpdateSum(SPECS)
    total.add(update("int8", 1), 1.0)
    first = total.result()
    assert_close(total.result(), first)
    total.add(update("int8", 2), 2.0)
    assert_close(total.result(), direct_sum([(update("int8", 1), 1.0), (update("int8", 2), 2.0)]))


def test_clipping_is_a_weight_factor() -> None:
    u = update("rot-1bit", 3)
    bound = 0.5 * u.l2_norm()
    total = UpdateSum(SPECS)
    total.add(u, 2.0 * min(1.0, bound / u.l2_norm()))
    clipped_norm = np.sqrt(sum(float(np.sum(v**2)) for v in total.result().values()))
    assert clipped_norm == pytest.approx(2.0 * bound, rel=1e-5)


def test_memory_does_not_grow_with_the_number_of_updates() -> None:
    big = {"w": (300, 400), "b": (400,)}
    specs = [Spec(name, shape) for name, shape in big.items()]
    bodies = [
        encode_update(heavy_tailed(s, big), "rot-1bit", seed=s, rotation_seed=s % 2, meta={})[0] for s in range(24)
    ]

    def peak_after(count: int) -> int:
        total = UpdateSum(specs)
        tracemalloc.start()
        for body in bodies[:count]:
            total.add(decode_update(body, specs), 1.0)
        total.result()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    few, many = peak_after(3), peak_after(24)
    model_bytes = 8 * (300 * 400 + 400)
    assert many < 1.2 * few and many < 12 * model_bytes


def test_updates_that_do_not_fit_are_rejected() -> None:
    total = UpdateSum(SPECS)
    with pytest.raises(ValueError, match="weight must be finite"):
        total.add(update("int8", 1), float("nan"))
    other = decode_update(encode_update({"x": np.zeros(3)}, "fp32", seed=0, meta={})[0], [Spec("x", (3,))])
    with pytest.raises(ValueError, match="do not match"):
        total.add(other, 1.0)
    assert total.count == 0 and total.total_weight == 0.0
