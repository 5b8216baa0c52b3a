"""Schedules of scheduled tasks: cron in the task's time zone across daylight-saving changes,
intervals, once, catching up after downtime, and the errors that name the field at fault."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lakehouse.errors import ScheduleError, UsageError
from lakehouse.ops.schedule import Schedule

NEW_YORK = ZoneInfo("America/New_York")


def _runs(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """Every occurrence in [start, end), as a worker that runs each one when due would see them."""
    found: list[datetime] = []
    at = schedule.next_after(start - timedelta(microseconds=1))
    while at is not None and at < end:
        found.append(at)
        at = schedule.after_run(at)
    return found


def test_a_daily_cron_follows_its_time_zone_across_spring_forward_and_fall_back() -> None:
    daily = Schedule.parse("cron", "30 2 * * *", "America/New_York")
    # 2026-03-08: clocks go from 02:00 to 03:00; the 02:30 run happens once, at 03:00 local.
    spring = _runs(daily, datetime(2026, 3, 7, 12, tzinfo=UTC), datetime(2026, 3, 10, 12, tzinfo=UTC))
    assert [r.astimezone(NEW_YORK).strftime("%m-%d %H:%M %Z") for r in spring] == [
        "03-08 03:00 EDT",
        "03-09 02:30 EDT",
        "03-10 02:30 EDT",
    ]
    # 2026-11-01: 01:00-02:00 happens twice; a 01:30 task runs once, not twice.
    fall_task = Schedule.parse("cron", "30 1 * * *", "America/New_York")
    fall = _runs(fall_task, datetime(2026, 10, 31, 12, tzinfo=UTC), datetime(2026, 11, 3, 12, tzinfo=UTC))
    assert [r.astimezone(NEW_YORK).strftime("%m-%d %H:%M") for r in fall] == [
        "11-01 01:30",
        "11-02 01:30",
        "11-03 01:30",
    ]
    assert fall[0] == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # the first pass (EDT)
    # Every time is UTC, as next_run_at stores it.
    assert all(r.tzinfo == UTC for r in spring + fall)


def test_cron_times_are_read_in_the_task_zone_not_utc() -> None:
    utc = Schedule.parse("cron", "0 9 * * 1-5", "UTC")
    tokyo = Schedule.parse("cron", "0 9 * * 1-5", "Asia/Tokyo")
    friday_noon = datetime(2026, 12, 4, 12, tzinfo=UTC)
    assert utc.next_after(friday_noon) == datetime(2026, 12, 7, 9, tzinfo=UTC)  # Monday
    assert tokyo.next_after(friday_noon) == datetime(2026, 12, 7, 0, tzinfo=UTC)  # Monday 09:00 JST


def test_missed_occurrences_are_caught_up_once_not_one_by_one() -> None:
    hourly = Schedule.parse("cron", "0 * * * *", "UTC")
    due = datetime(2026, 12, 1, 8, tzinfo=UTC)
    back = datetime(2026, 12, 1, 19, 20, tzinfo=UTC)  # every worker was down for 11 hours
    assert due <= back  # the stored occurrence is due: it runs once now
    assert hourly.after_run(back) == datetime(2026, 12, 1, 20, tzinfo=UTC)  # then the next future one


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("1d", 86400), (" 2h ", 7200)]
)
def test_intervals_count_from_the_last_run(text: str, seconds: int) -> None:
    every = Schedule.parse("interval", text)
    ran = datetime(2026, 12, 1, 10, 0, 5, tzinfo=UTC)
    assert every.after_run(ran) == ran + timedelta(seconds=seconds)
    assert every.first_run(ran) == ran + timedelta(seconds=seconds)


def test_a_once_task_runs_once_even_when_added_after_its_time() -> None:
    local = Schedule.parse("once", "2026-12-24T06:00", "America/New_York")
    assert local.first_run(datetime(2026, 12, 1, tzinfo=UTC)) == datetime(2026, 12, 24, 11, tzinfo=UTC)
    late = Schedule.parse("once", "2026-01-01T00:00:00+00:00", "America/New_York")  # offset wins
    added = datetime(2026, 12, 1, tzinfo=UTC)
    assert late.first_run(added) == datetime(2026, 1, 1, tzinfo=UTC)  # past: due at once
    assert late.next_after(added) is None
    assert late.after_run(added) is None  # and never again


@pytest.mark.parametrize(
    ("kind", "expr", "zone", "message"),
    [
        ("hourly", "0 * * * *", "UTC", "schedule_type 'hourly': expected one of cron, interval, once"),
        (
            "cron",
            "0 * * * * *",
            "UTC",
            "schedule_expr '0 * * * * *': expected 5 cron fields (minute hour day month weekday), not 6",
        ),
        ("cron", "61 * * * *", "UTC", "schedule_expr '61 * * * *': expected a cron expression"),
        ("cron", "0 2 * * *", "America/Gotham", "timezone 'America/Gotham': expected an IANA time zone"),
        (
            "interval",
            "15 minutes",
            "UTC",
            "schedule_expr '15 minutes': expected an interval such as 30s, 15m, 1h or 1d",
        ),
        ("interval", "0m", "UTC", "schedule_expr '0m': expected an interval such as"),
        ("interval", "5s", "UTC", "schedule_expr '5s': expected an interval of at least 10s"),
        ("once", "tomorrow", "UTC", "schedule_expr 'tomorrow': expected an ISO timestamp"),
    ],
)
def test_a_bad_schedule_is_a_usage_error_naming_the_field(
    kind: str, expr: str, zone: str, message: str
) -> None:
    with pytest.raises(ScheduleError) as caught:
        Schedule.parse(kind, expr, zone)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, UsageError) and caught.value.exit_code == 2


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        Schedule.parse("cron", "0 * * * *").next_after(datetime(2026, 12, 1, 8))
