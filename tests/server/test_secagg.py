"""Secure aggregation simulated with n devices in one process: exact sums despite dropouts."""

from __future__ import annotations

import numpy as np
import pytest

from server.fixed_point import decode_fixed_point, encode_fixed_point, fixed_point_scale, flatten, unflatten
from server.secagg import SecAggConfig, SecAggDevice, expand_mask, unmask_sum

LENGTH = 50


def setup_round(n: int, config: SecAggConfig):
    """Steps 1-2 for devices 1..n: advertise keys, exchange encrypted shares through the 'server'."""
    devices = {i: SecAggDevice(i, config) for i in range(1, n + 1)}
    peers = {i: d.public_keys() for i, d in devices.items()}
    outboxes = {i: d.shares_for_peers(peers) for i, d in devices.items()}
    for i, device in devices.items():
        device.receive_shares({sender: outbox[i] for sender, outbox in outboxes.items()})
    return devices, peers


def run_round(n, threshold, drop_before_masking, drop_before_unmasking, bits=32, seed=0):
    config = SecAggConfig(round_id=b"round-7", threshold=threshold, modulus_bits=bits)
    devices, peers = setup_round(n, config)
    rng = np.random.default_rng(seed)
    inputs = {i: rng.integers(0, 2**bits, LENGTH, dtype=np.uint64) for i in devices}
    masked = {i: devices[i].masked_input(inputs[i]) for i in devices if i not in drop_before_masking}
    responders = [i for i in masked if i not in drop_before_unmasking]
    reveals = {i: devices[i].reveal(masked.keys()) for i in responders}
    expected = sum((inputs[i] for i in masked), np.zeros(LENGTH, np.uint64)) & np.uint64(2**bits - 1)
    return unmask_sum(config, peers, masked, reveals), expected, masked, inputs


@pytest.mark.parametrize(
    ("drop_before_masking", "drop_before_unmasking"),
    [((), ()), ((2, 5), ()), ((1,), (4, 6)), ((), (3,))],
    ids=["no-dropouts", "two-drop-before-masking", "drops-in-both-phases", "survivor-drops-before-unmasking"],
)
def test_server_recovers_exactly_the_survivors_sum(drop_before_masking, drop_before_unmasking) -> None:
    total, expected, _, _ = run_round(7, 4, drop_before_masking, drop_before_unmasking)
    np.testing.assert_array_equal(total, expected)


def test_masked_inputs_hide_the_values() -> None:
    _, _, masked, inputs = run_round(4, 3, (), (), bits=32, seed=1)
    for i, vector in masked.items():
        assert np.mean(vector == inputs[i]) < 0.05
    # A masked all-zero input is spread over the whole ring, not near zero.
    config = SecAggConfig(b"r", threshold=2)
    devices, _ = setup_round(3, config)
    hidden = devices[1].masked_input(np.zeros(1000, np.uint64))
    assert abs(hidden.astype(np.float64).mean() / 2**32 - 0.5) < 0.05


def test_too_many_dropouts_cannot_be_unmasked() -> None:
    config = SecAggConfig(b"round", threshold=4)
    devices, peers = setup_round(5, config)
    masked = {i: devices[i].masked_input(np.zeros(LENGTH, np.uint64)) for i in (1, 2, 3)}
    with pytest.raises(ValueError, match="refusing to reveal"):
        devices[1].reveal(masked.keys())
    with pytest.raises(ValueError, match="at least 4 survivors"):
        unmask_sum(config, peers, masked, {})


def test_a_device_reveals_only_once_per_round() -> None:
    devices, _ = setup_round(4, SecAggConfig(b"round", threshold=2))
    devices[1].reveal([1, 2, 3])
    with pytest.raises(ValueError, match="already revealed"):
        devices[1].reveal([1, 2])  # a second answer could expose both shares of device 4


def test_tampered_or_misrouted_shares_are_rejected() -> None:
    config = SecAggConfig(b"round", threshold=2)
    devices = {i: SecAggDevice(i, config) for i in (1, 2, 3)}
    peers = {i: d.public_keys() for i, d in devices.items()}
    outbox = devices[1].shares_for_peers(peers)
    for device in devices.values():
        device.shares_for_peers(peers)
    tampered = outbox[2][:-1] + bytes([outbox[2][-1] ^ 1])
    with pytest.raises(ValueError, match="share from device 1 failed authentication"):
        devices[2].receive_shares({1: tampered})
    with pytest.raises(ValueError, match="share from device 1 failed authentication"):
        devices[3].receive_shares({1: outbox[2]})  # meant for device 2


def test_peer_list_must_carry_the_device_itself() -> None:
    config = SecAggConfig(b"round", threshold=2)
    first, second, third = (SecAggDevice(i, config) for i in (1, 2, 3))
    with pytest.raises(ValueError, match="own keys"):
        first.shares_for_peers({2: second.public_keys(), 3: third.public_keys()})


def test_prg_is_rfc8439_chacha20() -> None:
    # RFC 8439 Appendix A.1, test vector #1: key 0, nonce 0, counter 0 -> keystream block.
    block = bytes.fromhex(
        "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
        "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"
    )
    expected = np.frombuffer(block, dtype="<u8")
    np.testing.assert_array_equal(expand_mask(bytes(32), 8, 62), expected & np.uint64(2**62 - 1))
    np.testing.assert_array_equal(expand_mask(bytes(32), 8, 16), expected & np.uint64(0xFFFF))


def test_secure_sum_of_float_deltas_decodes_to_their_sum() -> None:
    rng = np.random.default_rng(3)
    shapes = {"dense/kernel": (4, 5), "dense/bias": (5,)}
    deltas = [{name: rng.uniform(-0.5, 0.5, shape) for name, shape in shapes.items()} for _ in range(5)]
    clip, bits = 1.0, 32
    scale = fixed_point_scale(clip, max_participants=5, modulus_bits=bits)
    config = SecAggConfig(b"round-float", threshold=3, modulus_bits=bits)
    devices, peers = setup_round(5, config)
    masked = {}
    for i, delta in zip(devices, deltas):
        vector, layout = flatten(delta)
        masked[i] = devices[i].masked_input(encode_fixed_point(vector, clip, scale, bits, rng))
    del masked[4]  # device 4 drops before its masked input arrives
    reveals = {i: devices[i].reveal(masked.keys()) for i in masked}
    total = unflatten(decode_fixed_point(unmask_sum(config, peers, masked, reveals), scale, bits), layout)
    for name in deltas[0]:
        expected = sum(d[name] for i, d in zip(devices, deltas) if i != 4)
        np.testing.assert_allclose(total[name], expected, atol=4 / scale)


def test_fixed_point_is_unbiased_and_does_not_wrap_at_the_limit() -> None:
    rng = np.random.default_rng(0)
    bits, clip, n = 16, 1.0, 10
    scale = fixed_point_scale(clip, n, bits)
    encoded = [encode_fixed_point(np.full(20_000, 0.123456), clip, scale, bits, rng) for _ in range(n)]
    total = sum(encoded, np.zeros(20_000, np.uint64))
    assert decode_fixed_point(total, scale, bits).mean() == pytest.approx(n * 0.123456, abs=1e-4)
    extreme = sum((encode_fixed_point(np.full(8, sign * clip), clip, scale, bits, rng) for sign in [-1] * n),
                  np.zeros(8, np.uint64))
    np.testing.assert_allclose(decode_fixed_point(extreme, scale, bits), -n * clip, atol=n / scale)
    with pytest.raises(ValueError, match="cannot hold"):
        fixed_point_scale(1.0, max_participants=2**20, modulus_bits=16)


def test_unflatten_checks_the_length() -> None:
    vector, layout = flatten({"b": np.ones(2), "a": np.zeros((2, 2))})
    assert [name for name, _ in layout] == ["a", "b"]
    with pytest.raises(ValueError, match="layout needs 6"):
        unflatten(vector[:-1], layout)
