"""CPU and wall time spent computing, per node."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Stopwatch:
    """Accumulates the CPU seconds (this process) and wall seconds of timed sections."""

    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0

    @contextmanager
    def timing(self) -> Iterator[None]:
        """Time the body of a ``with`` block."""
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self.cpu_seconds += time.process_time() - cpu
            self.wall_seconds += time.perf_counter() - wall

    def add(self, other: Stopwatch) -> None:
        """Add another node's times."""
        self.cpu_seconds += other.cpu_seconds
        self.wall_seconds += other.wall_seconds
