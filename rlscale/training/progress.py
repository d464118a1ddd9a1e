"""Progress for humans and for files: a tqdm bar with ETA on a terminal; elsewhere (a log file, a
Ray worker, CI) one plain line per ~5% of the work, with steps/s and ETA, instead of thousands of
carriage-return redraws."""

from __future__ import annotations

import sys
import time
from typing import Any

from tqdm.auto import tqdm


class LineProgress:
    """The part of tqdm's interface the drivers use, printing a line per `every` of the total."""

    def __init__(self, total: int, desc: str, every: float = 0.05, stream: Any = None):
        self.total, self.desc, self.stream = total, desc, stream or sys.stderr
        self.done, self.postfix = 0, ""
        self.step = max(1, int(total * every))
        self.next_line = self.step
        self.start = time.perf_counter()

    def update(self, n: int) -> None:
        self.done += n
        if self.done >= self.next_line or self.done >= self.total:
            self.next_line = (self.done // self.step + 1) * self.step
            self._line()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        pass

    def _line(self) -> None:
        seconds = max(time.perf_counter() - self.start, 1e-9)
        rate = self.done / seconds
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        line = (
            f"{self.desc}: {self.done}/{self.total} steps ({self.done / self.total:.0%}), "
            f"{rate:,.0f} steps/s, ETA {eta:,.0f} s"
        )
        print(line + (f", {self.postfix}" if self.postfix else ""), file=self.stream, flush=True)


def progress(total: int, desc: str, enabled: bool = True, **bar: Any) -> tqdm | LineProgress:
    """A bar on a terminal, lines elsewhere; with `enabled` False, tqdm's disabled no-op bar."""
    if enabled and not sys.stderr.isatty():
        return LineProgress(total, desc)
    return tqdm(total=total, desc=desc, unit="step", unit_scale=True, disable=not enabled, **bar)
