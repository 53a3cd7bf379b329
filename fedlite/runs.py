"""What a federated run produced: one record per round, read from the server's round history.

Both the demo (a ``fedlite serve`` subprocess) and the simulator (the server app in process)
read the server's ``history.jsonl`` (docs/server.md, Observability), so they report the same
numbers the server's dashboard shows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.wire import encode_update
from edge_sdk.wire.manifest import WeightSpec
from edge_sdk.wire.protocol import UpdateMeta, to_dict


@dataclass(frozen=True)
class RoundRecord:
    """One finished round (async: one published buffer) as the server recorded it."""

    round: int
    outcome: str
    participants: int
    accepted: int
    uplink_bytes: int
    accuracy: float | None
    loss: float | None
    train_loss: float | None
    seconds: float

    @classmethod
    def from_history(cls, record: dict[str, Any]) -> RoundRecord:
        """The record of one line of the server's ``history.jsonl``."""
        evaluation = record.get("eval") or {}
        return cls(round=int(record["round"]), outcome=str(record.get("outcome", "")),
                   participants=int(record.get("participants", 0)), accepted=int(record.get("accepted", 0)),
                   uplink_bytes=int(record.get("bytes", 0)), accuracy=evaluation.get("accuracy"),
                   loss=evaluation.get("loss"), train_loss=(record.get("train_metrics") or {}).get("loss"),
                   seconds=float(record.get("duration_s", 0.0)))

    def to_json(self) -> dict[str, Any]:
        """A JSON object with the same fields."""
        return asdict(self)


def _history(path: Path) -> list[dict[str, Any]]:
    """The records of ``path`` (a torn last line is skipped)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def read_rounds(history: Path) -> list[RoundRecord]:
    """The finished rounds in ``history``."""
    return [RoundRecord.from_history(r) for r in _history(history) if r.get("outcome") != "initial"]


def initial_accuracy(history: Path) -> float | None:
    """The held-out accuracy of version 0, the untrained model (the server evaluates it at start-up)."""
    return next(((r.get("eval") or {}).get("accuracy") for r in _history(history) if r.get("outcome") == "initial"), None)


def final_accuracy(rounds: Sequence[RoundRecord]) -> float | None:
    """The held-out accuracy of the last published round."""
    scored = [r.accuracy for r in rounds if r.outcome == "published" and r.accuracy is not None]
    return scored[-1] if scored else None


def rounds_to_reach(rounds: Sequence[RoundRecord], accuracy: float) -> int | None:
    """The first round whose global model reaches ``accuracy`` on the held-out data, if any."""
    return next((r.round for r in rounds if r.accuracy is not None and r.accuracy >= accuracy), None)


def summarise(rounds: Sequence[RoundRecord], *, devices: int, trainable_parameters: int, fp32_update_bytes: int,
              seconds: float) -> dict[str, Any]:
    """The headline numbers of a run, as the demo's and the simulator's ``--json`` and reports show them.

    ``bits_per_param`` is 8 x the mean bytes of an accepted update (every byte of the bundle) over
    the trainable parameters; ``fp32_uplink_bytes`` is what the same updates would weigh as float32.
    """
    accepted, uplink = sum(r.accepted for r in rounds), sum(r.uplink_bytes for r in rounds)
    per_update = uplink / accepted if accepted else 0.0
    return {"final_accuracy": final_accuracy(rounds), "rounds": len(rounds),
            "rounds_to_90": rounds_to_reach(rounds, 0.9), "devices": devices,
            "trainable_parameters": trainable_parameters, "accepted_updates": accepted, "uplink_bytes": uplink,
            "fp32_uplink_bytes": accepted * fp32_update_bytes, "fp32_update_bytes": fp32_update_bytes,
            "uplink_bytes_per_update": round(per_update, 1),
            "bits_per_param": round(8 * per_update / trainable_parameters, 4), "seconds": round(seconds, 1)}


def fp32_update_bytes(specs: Sequence[WeightSpec]) -> int:
    """Bytes of one update sent as plain float32: the baseline compressed updates are measured against.

    The meta is a typical one (a task id of the server's length, a loss with full precision);
    real metas differ by a few bytes.
    """
    delta = {spec.name: np.zeros(spec.shape, np.float32) for spec in specs if spec.trainable}
    meta = UpdateMeta("tsk_" + "x" * 16, 10, 9, 100, {"loss": 0.123456789012345})
    return len(encode_update(delta, "fp32", seed=0, meta=to_dict(meta))[0])
