"""Timing and reporting helpers of the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Figure:
    name: str
    seconds: float
    items: int
    baseline_seconds: float | None = None

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds else float("inf")

    def line(self) -> str:
        ratio = ""
        if self.baseline_seconds is not None:
            factor = self.baseline_seconds / self.seconds
            if factor >= 1:
                ratio = f"  {factor:6.1f}x faster than the baseline ({self.baseline_seconds:.3f} s)"
            else:
                ratio = f"  {1 / factor:6.1f}x the baseline's time ({self.baseline_seconds:.3f} s)"
        return f"{self.name:<48} {self.seconds:8.3f} s  {self.per_second:>12,.0f} /s{ratio}"


def timed(func: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start
