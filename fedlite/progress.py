"""Live progress of a federated run: a bar for the round in flight and a table of finished rounds.

On a terminal the bar redraws in place (``\\r``) and each finished round replaces it with a table
row; in a log file or a pipe only the table is written, one line per round, so the output reads
the same either way.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from fedlite.runs import RoundRecord

COLUMNS = (("round", 5), ("participants", 12), ("accuracy", 8), ("loss", 7), ("uplink bytes", 13))
BAR_WIDTH = 24


def format_bytes(count: float) -> str:
    """``1234567`` → ``1.23 MB`` (decimal units)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.2f} {unit}"
    return f"{int(count)} B"


def describe_uplink(uplink: int, fp32_uplink: int, updates: int, bits_per_param: float) -> str:
    """One line comparing the bytes sent with what float32 updates would have cost."""
    if not updates:
        return "uplink: no update was accepted"
    ratio = f" ({fp32_uplink / uplink:.0f}x less)" if uplink else ""
    return (f"uplink: {format_bytes(uplink)} in {updates} updates ({format_bytes(uplink / updates)} each, "
            f"{bits_per_param:.2f} bits per parameter); float32 updates would have cost "
            f"{format_bytes(fp32_uplink)}{ratio}")


def describe_target(rounds_to_90: int | None) -> str:
    """When the held-out accuracy first reached 90%, or that it never did."""
    return "90% not reached" if rounds_to_90 is None else f"90% first reached in round {rounds_to_90}"


def _cell(value: object, width: int) -> str:
    return str(value).rjust(width)


class Progress:
    """Writes the round table to ``stream``, with an in-place bar when ``stream`` is a terminal."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.clock = clock
        self._bar_shown = ""  # the bar on screen, if any
        self._round, self._since = 0, 0.0  # the round in flight, and when its bar first appeared

    def header(self) -> None:
        """The table's column titles."""
        self._line("  ".join(title.rjust(width) for title, width in COLUMNS))

    def round_progress(self, number: int, done: int, total: int) -> None:
        """Redraw the bar of round ``number``: ``done`` of ``total`` updates in, and the seconds it has
        been running (terminals only)."""
        if not self.live:
            return
        if number != self._round:
            self._round, self._since = number, self.clock()
        filled = BAR_WIDTH * min(done, total) // max(total, 1)
        bar = (f"round {number:>3} [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total} updates  "
               f"{self.clock() - self._since:.0f} s")
        if bar != self._bar_shown:
            self.stream.write(f"\r\x1b[2K{bar}")
            self.stream.flush()
            self._bar_shown = bar

    def round_done(self, record: RoundRecord) -> None:
        """The table row of a finished round."""
        accuracy = "-" if record.accuracy is None else f"{record.accuracy:.2%}"
        loss = "-" if record.loss is None else f"{record.loss:.3f}"
        participants = record.participants if record.outcome == "published" else record.outcome
        cells = (record.round, participants, accuracy, loss, format_bytes(record.uplink_bytes))
        self._line("  ".join(_cell(value, width) for value, (_, width) in zip(cells, COLUMNS)))

    def note(self, text: str) -> None:
        """A line of commentary between rows."""
        self._line(text)

    def _line(self, text: str) -> None:
        if self._bar_shown:
            self.stream.write("\r\x1b[2K")
            self._bar_shown = ""
        self.stream.write(text + "\n")
        self.stream.flush()
