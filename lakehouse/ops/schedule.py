"""When a scheduled task runs: ``cron`` (5 fields, in the task's time zone), ``interval`` or ``once``.

Times are stored in UTC (``scheduler_tasks.next_run_at``); a cron expression is read in the task's
IANA time zone, with cron's rules across daylight-saving changes (cronsim, as Debian's cron): an
occurrence in the hour a spring-forward skips runs at the first minute after it (a 02:30 daily task in
``America/New_York`` runs at 03:00 on that day), and one in the hour a fall-back repeats runs once, at
its first pass. An ``interval`` (``15m``, ``1h``, ``1d``; also ``30s``) counts from the end of the last
run; a ``once`` task runs at its ISO timestamp (read in the task's zone when it has no offset), and
never again.

Catching up: a worker that finds an occurrence due runs it once, then asks :meth:`Schedule.after_run`
for the next one after *now*; occurrences missed while every worker was down are not run one by one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from lakehouse.errors import ScheduleError

ScheduleType = Literal["cron", "interval", "once"]
SCHEDULE_TYPES: Final[tuple[ScheduleType, ...]] = get_args(ScheduleType)
_INTERVAL: Final = re.compile(r"([1-9][0-9]*)([smhd])")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: The shortest interval a task may have (a worker polls about this often).
MIN_INTERVAL: Final = timedelta(seconds=10)


@dataclass(frozen=True)
class Schedule:
    """A task's schedule; build one with :meth:`parse`, which checks every field."""

    kind: ScheduleType
    expr: str
    timezone: str
    _zone: ZoneInfo
    _interval: timedelta | None = None
    _once_at: datetime | None = None

    @classmethod
    def parse(
        cls, kind: str, expr: str, timezone: str = "UTC", min_interval: timedelta = MIN_INTERVAL
    ) -> Schedule:
        """Check a schedule as a user gives it (``min_interval``: the shortest interval allowed;
        tests of the worker use shorter ones).

        Raises:
            ScheduleError: naming the field (``schedule_type``, ``schedule_expr`` or ``timezone``)
                and what it expects.
        """
        if kind not in SCHEDULE_TYPES:
            raise ScheduleError("schedule_type", kind, f"one of {', '.join(SCHEDULE_TYPES)}")
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(
                "timezone", timezone, "an IANA time zone such as UTC or America/New_York"
            ) from None
        text = expr.strip()
        if kind == "cron":
            fields = text.split()
            if len(fields) != 5:
                raise ScheduleError(
                    "schedule_expr", expr, f"5 cron fields (minute hour day month weekday), not {len(fields)}"
                )
            try:
                CronSim(text, datetime(2000, 1, 1, tzinfo=zone))
            except CronSimError as exc:
                raise ScheduleError("schedule_expr", expr, f"a cron expression ({exc})") from None
            return cls("cron", text, timezone, zone)
        if kind == "interval":
            match = _INTERVAL.fullmatch(text)
            if match is None:
                raise ScheduleError("schedule_expr", expr, "an interval such as 30s, 15m, 1h or 1d")
            every = timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
            if every < min_interval:
                raise ScheduleError("schedule_expr", expr, f"an interval of at least {min_interval.seconds}s")
            return cls("interval", text, timezone, zone, _interval=every)
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            raise ScheduleError("schedule_expr", expr, "an ISO timestamp such as 2026-12-24T06:00") from None
        at = at.replace(tzinfo=zone) if at.tzinfo is None else at
        return cls("once", text, timezone, zone, _once_at=at.astimezone(UTC))

    def first_run(self, created: datetime) -> datetime | None:
        """The first occurrence of a task added at ``created`` (UTC): a ``once`` task's timestamp even
        if it is past (it is then due at once), else the first occurrence after ``created``."""
        if self._once_at is not None:
            return self._once_at
        return self.next_after(created)

    def next_after(self, after: datetime) -> datetime | None:
        """The first occurrence strictly after ``after`` (UTC, aware), in UTC; None: there is none
        (a ``once`` task whose time is past)."""
        after = _utc(after)
        if self._once_at is not None:
            return self._once_at if self._once_at > after else None
        if self._interval is not None:
            return after + self._interval
        local = after.astimezone(self._zone)
        return next(iter(CronSim(self.expr, local))).astimezone(UTC)

    def after_run(self, now: datetime) -> datetime | None:
        """The next occurrence once a due one has run (or been attempted) at ``now``: the first after
        ``now``, so the occurrences missed meanwhile are caught up once, not one by one; None for a
        ``once`` task (it has run)."""
        if self.kind == "once":
            return None
        return self.next_after(now)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone: scheduler times are aware, in UTC")
    return moment.astimezone(UTC)
