"""Simulated time of the sample-data generator.

Times are whole seconds relative to midnight of the first extract day (negative before the window), so
the simulation does integer arithmetic only and formats a timestamp once, when a row is written.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

DAY = 86_400
HOUR = 3_600
MINUTE = 60

# Relative call/job volume per weekday (Monday first): quieter weekends.
_WEEKDAY_WEIGHT = (1.0, 1.0, 1.0, 1.0, 0.95, 0.45, 0.2)


class Clock:
    """The extract window: ``days`` calendar days ending on ``end_date`` (inclusive)."""

    def __init__(self, end_date: date, days: int) -> None:
        self.days = days
        self.start_date = end_date - timedelta(days=days - 1)
        self.end = days * DAY
        self._date_text: dict[int, str] = {}
        cumulative = 0.0
        self._cum_weights: list[float] = []
        for day in range(days):
            cumulative += _WEEKDAY_WEIGHT[(self.start_date + timedelta(days=day)).weekday()]
            self._cum_weights.append(cumulative)

    def date_of(self, day: int) -> date:
        """Return the calendar date of day index ``day`` (0 = first extract day)."""
        return self.start_date + timedelta(days=day)

    def date_text(self, day: int) -> str:
        """Return ``YYYY-MM-DD`` of day index ``day``."""
        text = self._date_text.get(day)
        if text is None:
            text = self.date_of(day).isoformat()
            self._date_text[day] = text
        return text

    def ts(self, t: int) -> str:
        """Format a simulated time as ``YYYY-MM-DD HH:MM:SS``."""
        day, sec = divmod(t, DAY)
        hours, rest = divmod(sec, HOUR)
        minutes, seconds = divmod(rest, MINUTE)
        return f"{self.date_text(day)} {hours:02d}:{minutes:02d}:{seconds:02d}"

    def day_text(self, t: int) -> str:
        """Format the date of a simulated time as ``YYYY-MM-DD``."""
        return self.date_text(t // DAY)

    def random_days(self, rng: random.Random, k: int) -> list[int]:
        """Draw ``k`` day indexes, weekdays more likely than weekends."""
        return rng.choices(range(self.days), cum_weights=self._cum_weights, k=k)

    @staticmethod
    def business_time(rng: random.Random, day: int, first_hour: int = 7, last_hour: int = 19) -> int:
        """Return a random time of ``day`` between ``first_hour`` and ``last_hour`` o'clock."""
        return day * DAY + rng.randrange(first_hour * HOUR, last_hour * HOUR)
