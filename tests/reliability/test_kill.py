"""kill -9 a running ingest and a running build at random points, on both backends, and on a data
root in a bucket of the test S3 server (with PostgreSQL).

After each kill: ``lakehouse runs`` (the recovery pass) leaves no run running, ``gc`` then ``verify``
pass, every current silver/gold digests as after an uninterrupted run, bronze holds either all or
none of the killed ingest, no run committed part of its datasets, and the same command rerun at
once completes (no lock of the dead process refuses it).
"""

from __future__ import annotations

import random

import pytest

from tests.reliability.checks import (
    Tally,
    check_cli_reads,
    check_gc_and_verify,
    check_recovered,
    check_rerun,
    check_settled,
    check_snapshot,
    crash_point,
    run_ids,
)
from tests.reliability.harness import (
    BASE_DAYS,
    CHUNK_DAYS,
    COMPANY,
    Extract,
    Lakehouse,
    Snapshot,
    Template,
    sum_by_day,
)

#: The short run kills on SQLite, and on S3 with PostgreSQL (``also_on_object_storage``; the PostgreSQL-loss case
#: covers PostgreSQL on a local root); the long run on every variant.
SHORT_RUN_BACKENDS = ("sqlite",)

pytestmark = [
    pytest.mark.also_on_object_storage(short_run=True),
    pytest.mark.reliability,
    pytest.mark.xdist_group("reliability"),
    pytest.mark.slow,
    pytest.mark.integration,
]


def _keys(days: list[str]) -> set[tuple[str, str]]:
    return set().union(*(Extract.keys(d) for d in days))


# On S3 in the long run only: the build's kills in the short run cover the same uploads and scratch.
@pytest.mark.also_on_object_storage(short_run=False)
def test_kill_9_ingest_at_random_points(
    lakehouse: Lakehouse,
    template: Template,
    extracts: dict[str, Extract],
    bronze_reference: Snapshot,
    tally: Tally,
    rng: random.Random,
    trials: int,
) -> None:
    lh, extract = lakehouse, extracts[COMPANY]
    days = extract.days
    chunks = [
        days[i : i + CHUNK_DAYS] for i in range(BASE_DAYS, BASE_DAYS + CHUNK_DAYS * (trials + 1), CHUNK_DAYS)
    ]
    have = _keys(days[:BASE_DAYS])

    def ingest(chunk: list[str]) -> tuple[str, ...]:
        return ("ingest", "--company", COMPANY, "--output", "json", *[str(extract.folder(d)) for d in chunk])

    # An uninterrupted ingest first: how long one takes (kill points are drawn over it).
    first = lh.ok(*ingest(chunks[0]))
    have |= _keys(chunks[0])
    check_snapshot(lh, tally, "uninterrupted ingest", [sum_by_day(bronze_reference, have)], ("bronze",), True)
    duration = first.seconds

    for n, chunk in enumerate(chunks[1:], start=1):
        delay = rng.uniform(0, duration)
        before_runs = run_ids(lh)
        crashed = lh.start(*ingest(chunk)).kill_after(delay)
        tally.trials += 1
        tally.crashes += crashed
        label = (
            f"ingest trial {n} ({template.variant}): `lakehouse ingest` of {' '.join(chunk)} "
            f"SIGKILLed {delay:.2f}s after start of ~{duration:.1f}s"
            + ("" if crashed else " (it had finished)")
        )
        before, after = sum_by_day(bronze_reference, have), sum_by_day(bronze_reference, have | _keys(chunk))
        check_recovered(lh, tally, label, template, [template.reference], [before, after])
        tally.crash_points[crash_point(lh, before_runs)] += 1
        rerun = lh.run(*ingest(chunk))
        if not check_rerun(lh, tally, label, rerun, duration):
            break
        have |= _keys(chunk)
        check_settled(lh, tally, f"{label}, then rerun", template, [template.reference], [after])

    check_gc_and_verify(lh, tally, "at the end")
    check_cli_reads(lh, tally, "at the end")
    tally.assert_clean()


def test_kill_9_build_at_random_points(
    lakehouse: Lakehouse, template: Template, tally: Tally, rng: random.Random, trials: int
) -> None:
    lh = lakehouse
    build = ("build", "--company", COMPANY, "--full-refresh", "--output", "json")
    duration = template.build_seconds
    for n in range(1, trials + 1):
        delay = rng.uniform(0, duration)
        before_runs = run_ids(lh)
        crashed = lh.start(*build).kill_after(delay)
        tally.trials += 1
        tally.crashes += crashed
        label = (
            f"build trial {n} ({template.variant}): `lakehouse build` SIGKILLed {delay:.2f}s after start "
            f"of ~{duration:.1f}s" + ("" if crashed else " (it had finished)")
        )
        check_recovered(lh, tally, label, template, [template.reference], [template.bronze])
        tally.crash_points[crash_point(lh, before_runs)] += 1
        rerun = lh.run(*build)
        if not check_rerun(lh, tally, label, rerun, duration):
            break
        check_settled(lh, tally, f"{label}, then rerun", template, [template.reference], [template.bronze])
        run_id = rerun.json()["run_id"]
        current = lh.current()
        stale = sorted(n for n in template.build_set if current[n].produced_by_run_id != run_id)
        tally.check(not stale, f"{label}: after the rerun {run_id}, not current from it: {stale}")

    check_gc_and_verify(lh, tally, "at the end")
    check_cli_reads(lh, tally, "at the end")
    tally.assert_clean()
