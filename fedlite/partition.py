"""Non-IID data for simulated devices: label skew drawn from a Dirichlet distribution.

With concentration ``alpha`` small (0.1–0.5) most devices see only a few classes; as ``alpha``
grows the split approaches an even, IID one. :func:`dirichlet_partition` splits a data set so
that every example lives on exactly one device (the demo, the benchmark, small simulations);
:func:`dirichlet_sample` lets each device of a fleet larger than the data set draw its own
examples (examples then repeat across devices).
"""

from __future__ import annotations

import numpy as np


def _check(labels: np.ndarray, num_devices: int, alpha: float) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D array of integer classes, got shape {labels.shape} {labels.dtype}")
    if num_devices < 1:
        raise ValueError(f"the number of devices must be at least 1, got {num_devices}")
    if not (np.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a positive number, got {alpha}")
    return labels


def dirichlet_partition(labels: np.ndarray, num_devices: int, alpha: float, *, seed: int = 0,
                        min_examples: int = 1) -> list[np.ndarray]:
    """Split the indices of ``labels`` among ``num_devices`` devices, each class by Dirichlet(alpha) shares.

    Every index goes to exactly one device and every device gets at least ``min_examples``
    (examples move from the largest shares to devices a draw left short). Deterministic for a
    given ``seed``. Returns one sorted int64 index array per device.
    """
    labels = _check(labels, num_devices, alpha)
    if num_devices * min_examples > len(labels):
        raise ValueError(f"{len(labels)} examples cannot give {num_devices} devices {min_examples} each")
    rng = np.random.default_rng(seed)
    shares: list[list[np.ndarray]] = [[] for _ in range(num_devices)]
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        cuts = np.floor(np.cumsum(rng.dirichlet(np.full(num_devices, alpha)))[:-1] * len(members)).astype(int)
        for device, part in enumerate(np.split(members, cuts)):
            shares[device].append(part)
    devices = [np.concatenate(parts) for parts in shares]
    _top_up(devices, min_examples, rng)
    return [np.sort(indices).astype(np.int64) for indices in devices]


def _top_up(devices: list[np.ndarray], min_examples: int, rng: np.random.Generator) -> None:
    """Move random examples from the largest devices to those with fewer than ``min_examples``."""
    for short in range(len(devices)):
        while len(devices[short]) < min_examples:
            largest = max(range(len(devices)), key=lambda device: len(devices[device]))
            pick = rng.integers(len(devices[largest]))
            devices[short] = np.append(devices[short], devices[largest][pick])
            devices[largest] = np.delete(devices[largest], pick)


def dirichlet_sample(labels: np.ndarray, num_devices: int, alpha: float, examples_per_device: int, *,
                     seed: int = 0) -> list[np.ndarray]:
    """For each device, ``examples_per_device`` indices drawn with a label mix from Dirichlet(alpha).

    Unlike :func:`dirichlet_partition`, examples may repeat across devices, so any number of
    devices can be served by a small data set. Within a device an example repeats only when its
    class has fewer examples than the device draws from it.
    """
    labels = _check(labels, num_devices, alpha)
    if examples_per_device < 1:
        raise ValueError(f"examples_per_device must be at least 1, got {examples_per_device}")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    members = [np.flatnonzero(labels == label) for label in classes]
    devices = []
    for _ in range(num_devices):
        counts = rng.multinomial(examples_per_device, rng.dirichlet(np.full(len(classes), alpha)))
        picks = [rng.choice(pool, size=count, replace=count > len(pool)) for pool, count in zip(members, counts)]
        devices.append(np.sort(np.concatenate(picks)).astype(np.int64))
    return devices
