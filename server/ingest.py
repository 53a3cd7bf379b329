"""Validation of one uploaded update against the model manifest and its task.

The decoder already checks the bundle (checksum, tensor names and shapes against the manifest,
finite values and scales, allocation bounds); here the update is checked against its task
(meta) and the round's norm bound.

Every check that fails raises :class:`Rejected` with the protocol error code and a reason
label (the metric label that counts it). Nothing here touches the running sums: an update
reaches them only after it passed every check and was made durable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edge_sdk.wire.manifest import WeightSpec
from edge_sdk.wire.protocol import ProtocolError, UpdateMeta, parse_message
from server import codec
from server.errors import ApiError
from server.ledger import TaskRow


MAX_NORM = 1e30  # beyond this an update can only be garbage (and would overflow float32 weights)


class Rejected(ApiError):
    """An update refused by validation; ``reason`` labels the rejection metric."""

    def __init__(self, code: str, reason: str, message: str) -> None:
        super().__init__(code, message)
        self.reason = reason


@dataclass(frozen=True)
class CheckedUpdate:
    """An update that passed validation: decoded tensors, its meta, its L2 norm (if computed)."""

    decoded: Any
    meta: UpdateMeta
    norm: float | None


def check_update(body: bytes, specs: Sequence[WeightSpec], task: TaskRow, *, max_bytes: int,
                 norm_bound: float | None, need_norm: bool) -> CheckedUpdate:
    """Decode ``body`` and check it fits ``task`` and the manifest; raise :class:`Rejected`.

    The L2 norm (a full pass over the update) is computed when a bound is set or ``need_norm``."""
    try:
        decoded = codec.decode_update(body, specs, max_bytes=max_bytes)
    except ValueError as exc:
        raise Rejected("malformed_update", "malformed", f"update bundle cannot be decoded: {exc}") from exc
    meta = _check_meta(decoded, task)
    if norm_bound is None and not need_norm:
        return CheckedUpdate(decoded, meta, None)
    norm = codec.update_norm(decoded)
    if not norm <= MAX_NORM:
        raise Rejected("invalid_update", "not_finite", f"update L2 norm {norm:.4g} is not a usable number")
    if norm_bound is not None and norm > norm_bound:
        raise Rejected("invalid_update", "norm_exceeded",
                       f"update L2 norm {norm:.4g} exceeds the bound {norm_bound:.4g}")
    return CheckedUpdate(decoded, meta, norm)


def _check_meta(decoded: Any, task: TaskRow) -> UpdateMeta:
    try:
        meta = parse_message(UpdateMeta, codec.update_meta(decoded))
    except ProtocolError as exc:
        raise Rejected("invalid_update", "bad_meta", f"update meta: {exc.message}") from exc
    expected = {"task_id": task.task_id, "round": task.round, "base_version": task.base_version}
    for name, value in expected.items():
        if getattr(meta, name) != value:
            raise Rejected("invalid_update", "meta_mismatch",
                           f"update meta {name} is {getattr(meta, name)!r}, the task's is {value!r}")
    return meta
