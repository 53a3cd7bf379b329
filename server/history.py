"""The JSON-lines round history: one object per finished round, appended and flushed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class History:
    """Appends round records to ``path`` and keeps the latest evaluation per round in memory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.evaluations: dict[int, dict[str, float]] = {}
        for record in self.read():
            if record.get("eval"):
                self.evaluations[record["round"]] = record["eval"]

    def append(self, record: dict[str, Any]) -> None:
        """Write one round's record."""
        if record.get("eval"):
            self.evaluations[record["round"]] = record["eval"]
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(json.dumps(record, sort_keys=True) + "\n")

    def read(self) -> list[dict[str, Any]]:
        """Every record written so far (a torn last line is skipped)."""
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records
