"""The fused decode-into-sum path against the spec's loop-by-loop reference decoder.

``UpdateSum`` decodes coded values straight into float64 sums with an affine per-chunk form;
the reference decodes each value as ``scale × level`` in double (``edge_sdk.wire.reference``),
un-rotates each update, and adds. The two must agree within float64 rounding on every preset
and every golden vector; the exact table path and the L2 norm must agree bit for bit with the
reference values and the norm of the float32 decoded tensors.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_sdk.wire import PRESETS, Codec, Eden, TensorCodec, Uniform, UpdateSum, decode_update, encode_update
from edge_sdk.wire.accumulate import Scratch, weighted_values
from edge_sdk.wire.encoding import Quantiser
from edge_sdk.wire.reference import REFERENCE
from tests.wire.codec_helpers import SHAPES, Spec, heavy_tailed, specs_of
from tests.wire.vector_cases import VECTOR_DIR

SPECS = specs_of(heavy_tailed(0))
WEIGHTS = (0.5, 3.0, 17.25, 1.0)
ROUNDING = 1e-12  # float64 rounding, with room for sums and butterflies (float32 rounding is 6e-8)
TAILS = Codec("tails", TensorCodec(Uniform(8, 7)), small_below=0)  # chunks that never divide the tensor
EDEN_CHUNKS = Codec("eden-chunks", TensorCodec(Eden(2, 5)), small_below=0)
CODECS = [*PRESETS, TAILS, EDEN_CHUNKS]


def codec_id(codec: str | Codec) -> str:
    return codec if isinstance(codec, str) else codec.name


def reference_values(update, name: str) -> np.ndarray:
    """The tensor's flat values in float64, by the reference kernels."""
    tensor = update.parsed(name)
    return tensor.unrotated(tensor.coded_domain(REFERENCE), REFERENCE)


def magnitude(update, name: str) -> float:
    """The largest coded-domain value: what rounding errors scale with (before and after rotation)."""
    return float(np.max(np.abs(update.parsed(name).coded_domain(REFERENCE)), initial=0.0))


def assert_sums_match_reference(total: UpdateSum, pairs: list) -> None:
    result = total.result()
    for spec in total_specs(pairs):
        expected = sum(w * reference_values(u, spec.name) for u, w in pairs).reshape(spec.shape)
        tolerance = ROUNDING * sum(abs(w) * magnitude(u, spec.name) for u, w in pairs)
        assert result[spec.name].dtype == np.float64
        np.testing.assert_allclose(result[spec.name], expected, rtol=0, atol=tolerance + 1e-300)


def total_specs(pairs: list) -> list[Spec]:
    update = pairs[0][0]
    return [Spec(name, update.parsed(name).shape) for name in update.names]


def encoded(codec: str | Codec, seed: int, rotation_seed: int, shapes=SHAPES):
    data, _ = encode_update(heavy_tailed(seed, shapes), codec, seed=seed, rotation_seed=rotation_seed, meta={})
    return decode_update(data, [Spec(name, shape) for name, shape in shapes.items()])


@pytest.mark.parametrize("codec", CODECS, ids=codec_id)
def test_sums_match_the_reference_decoder(codec) -> None:
    # three updates share a rotation (summed in the rotated domain), one has its own (un-rotated alone)
    pairs = [(encoded(codec, seed, 5 if seed < 3 else 6), w) for seed, w in enumerate(WEIGHTS)]
    total = UpdateSum(SPECS)
    for update, weight in pairs:
        total.add(update, weight)
    assert_sums_match_reference(total, pairs)


VECTORS = sorted(p.stem for p in VECTOR_DIR.glob("*.json") if json.loads(p.read_text())["kind"] == "update")


@pytest.mark.parametrize("name", VECTORS)
def test_sums_match_the_reference_decoder_on_golden_vectors(name: str) -> None:
    vector = json.loads((VECTOR_DIR / f"{name}.json").read_text())
    specs = [Spec(t["name"], tuple(t["shape"])) for t in vector["tensors"]]
    update = decode_update((VECTOR_DIR / vector["bundle"]).read_bytes(), specs)
    pairs = [(update, 2.5), (update, -0.75)]
    total = UpdateSum(specs)
    for u, w in pairs:
        total.add(u, w)
    assert_sums_match_reference(total, pairs)


def quantised_tensors():
    for codec in CODECS:
        update = encoded(codec, 11, 3)
        for name in update.names:
            tensor = update.parsed(name)
            if isinstance(tensor.encoding.values, Quantiser):
                yield codec_id(codec), tensor


def test_exact_values_are_the_reference_decoders_bit_for_bit() -> None:
    checked = set()
    for codec, tensor in quantised_tensors():
        coding = tensor.encoding.values
        out = np.empty(tensor.layout.count)
        exact = weighted_values(tensor, 1.0, out, exact=True)
        reference = REFERENCE.dequantize(coding, tensor.scales, tensor.body)
        assert exact.tobytes() == reference.tobytes(), (codec, tensor.name)
        fused = weighted_values(tensor, 1.0, np.empty(tensor.layout.count))
        np.testing.assert_allclose(fused, reference, rtol=1e-15, atol=0)  # the affine form: a few ulps
        checked.add(type(coding).__name__)
    assert checked == {"Uniform", "Eden"}


@pytest.mark.parametrize("codec", [*PRESETS, TAILS], ids=codec_id)
def test_l2_norm_is_the_norm_of_the_float32_decoded_update(codec) -> None:
    update = encoded(codec, 4, 9)
    expected = np.sqrt(sum(float(np.sum(update[name].astype(np.float64) ** 2)) for name in update.names))
    scratch = Scratch()
    assert update.l2_norm(scratch) == expected  # same values, same pairwise sums: bit for bit
    assert update.l2_norm(scratch) == update.l2_norm()  # a reused scratch changes nothing


def test_an_update_that_does_not_fit_changes_no_sum() -> None:
    total = UpdateSum(SPECS)
    total.add(encoded("int8", 1, 0), 2.0)
    before = total.result()
    wrong = dict(SHAPES, **{"head/kernel": (299,)})  # the last tensor's shape differs
    with pytest.raises(ValueError, match="head/kernel"):
        total.add(encoded("int8", 2, 0, wrong), 1.0)
    after = total.result()
    assert total.count == 1 and total.total_weight == 2.0
    assert all(np.array_equal(before[name], after[name]) for name in before)


def test_scratch_buffers_are_reused_and_grow_on_demand() -> None:
    scratch = Scratch()
    small = scratch.get("values", 10)
    assert scratch.get("values", 5).base is small.base  # no new allocation for a smaller request
    large = scratch.get("values", 1000)
    assert large.size == 1000 and large.dtype == np.float64
    assert scratch.get("float32", 10, np.float32).dtype == np.float32
