"""Row versions collected by the simulation, grouped into daily extracts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lakehouse.sample.clock import DAY

Value = str | int | None
"""A cell before writing: text, an integer (JSON only) or None (empty CSV field / JSON null)."""


@dataclass(frozen=True)
class Version:
    """One state of one entity, as some day's extract shows it."""

    day: int
    updated_at: int
    seq: int
    entity_id: str
    row: tuple[Value, ...]


class Ledger:
    """Every row version of every dataset, in the order the simulation made them."""

    def __init__(self, days: int) -> None:
        self._days = days
        self._seq = 0
        self.versions: dict[str, list[Version]] = {}

    def add(
        self,
        dataset: str,
        entity_id: str,
        updated_at: int,
        row: Sequence[Value],
        folder_day: int | None = None,
    ) -> bool:
        """Record a version; it lands in the folder of its ``updated_at`` day unless ``folder_day`` is given.

        Returns:
            False (and records nothing) when the day is after the window: that change has not happened yet.
        """
        day = updated_at // DAY if folder_day is None else folder_day
        if day >= self._days:
            return False
        if day < 0:
            raise AssertionError(f"{dataset} {entity_id} lands before the window (day {day})")
        self._seq += 1
        self.versions.setdefault(dataset, []).append(
            Version(day, updated_at, self._seq, entity_id, tuple(row))
        )
        return True

    def daily_rows(self, dataset: str) -> dict[int, list[tuple[Value, ...]]]:
        """Return each day's rows: the last version per entity and day, ordered by update time then id."""
        latest: dict[tuple[int, str], Version] = {}
        for version in self.versions.get(dataset, []):
            key = (version.day, version.entity_id)
            current = latest.get(key)
            if current is None or (version.updated_at, version.seq) >= (current.updated_at, current.seq):
                latest[key] = version
        by_day: dict[int, list[Version]] = {}
        for version in latest.values():
            by_day.setdefault(version.day, []).append(version)
        return {
            day: [v.row for v in sorted(versions, key=lambda v: (v.updated_at, v.entity_id))]
            for day, versions in sorted(by_day.items())
        }
