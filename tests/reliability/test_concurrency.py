"""Commands that overlap: nothing lost, nothing duplicated, every error one clear line.

Two ingests of different days sharing a file, the same files twice, an ingest during a build, gc
during a build (in the long run on an S3 data root too), builds of two companies, and a ``--wait``
build that commits last (it is current).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

import pytest

from tests.reliability.checks import (
    Tally,
    check_error,
    check_gc_and_verify,
    check_no_run_running,
    check_snapshot,
    check_versions_whole,
)
from tests.reliability.harness import (
    BASE_DAYS,
    COMPANY,
    OTHER_COMPANY,
    CliResult,
    Extract,
    Lakehouse,
    Running,
    Snapshot,
    Template,
    sum_by_day,
)
from tests.reliability.plugin import long_run

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.xdist_group("reliability"),
    pytest.mark.slow,
    pytest.mark.integration,
]


def _together(lh: Lakehouse, commands: Sequence[tuple[str, ...]], rng: random.Random) -> list[CliResult]:
    """Start the commands a few random milliseconds apart and wait for all of them."""
    started: list[Running] = []
    for args in commands:
        started.append(lh.start(*args))
        time.sleep(rng.uniform(0, 0.05))
    results = [r.wait() for r in started]
    for result in results:
        lh.log(result)
    return results


def _base_keys(extract: Extract) -> set[tuple[str, str]]:
    return set().union(*(Extract.keys(d) for d in extract.days[:BASE_DAYS]))


def _ingest(extract: Extract, *paths: object) -> tuple[str, ...]:
    return ("ingest", "--company", extract.company, "--output", "json", *[str(p) for p in paths])


def _files_ingested(results: Sequence[CliResult]) -> int:
    return sum(int(r.json()["files_ingested"]) for r in results if r.returncode == 0)


def _settle_ingests(lh: Lakehouse, tally: Tally, label: str, results: list[CliResult]) -> list[CliResult]:
    """Each ingest either succeeded or failed with one clear line; a failed one, rerun, succeeds."""
    done = []
    for result in results:
        if result.returncode == 0:
            done.append(result)
            continue
        check_error(tally, label, result)
        rerun = lh.run(*result.args)
        if tally.check(
            rerun.returncode == 0,
            f"{label}: `{result.command}` failed, and so did its rerun: {rerun.describe()}",
        ):
            done.append(rerun)
    return done


def _wait_for_running_build(
    lh: Lakehouse, build: Running, company: str = COMPANY, timeout: float = 120
) -> bool:
    """Wait until ``build`` has started its run (it then holds the company's build lock)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and build.running():
        runs = lh.runs_in_process(company)
        if any(r.pipeline_name == "dbt_build" and r.status == "running" for r in runs):
            return True
        time.sleep(0.1)
    return False


def _repetitions(trials: int) -> int:
    """How often the cheap ingest races repeat: once in the short run, trials/3 in the long one."""
    return max(1, trials // 3) if long_run() else 1


def test_two_ingests_of_different_days_sharing_a_file(
    lakehouse: Lakehouse,
    template: Template,
    extracts: dict[str, Extract],
    bronze_reference: Snapshot,
    tally: Tally,
    rng: random.Random,
    trials: int,
) -> None:
    lh, extract = lakehouse, extracts[COMPANY]
    have = _base_keys(extract)
    for rep in range(_repetitions(trials)):
        day_a, day_b, day_s = extract.days[BASE_DAYS + 3 * rep : BASE_DAYS + 3 * rep + 3]
        shared = extract.file(day_s, "jobs")
        label = f"ingest {day_a} + {shared.name} of {day_s} || ingest {day_b} + the same file"
        results = _together(
            lh,
            [
                _ingest(extract, extract.folder(day_a), shared),
                _ingest(extract, extract.folder(day_b), shared),
            ],
            rng,
        )
        tally.cases += 1
        done = _settle_ingests(lh, tally, label, results)
        tally.check(
            _files_ingested(done) == 11,
            f"{label}: {_files_ingested(done)} file(s) ingested in all, not 11 (5 + 5 + the shared one once)",
        )
        have |= Extract.keys(day_a) | Extract.keys(day_b) | {("bronze.jobs", day_s)}
        check_no_run_running(lh, tally, label)
        check_gc_and_verify(lh, tally, label)
        check_snapshot(lh, tally, label, [sum_by_day(bronze_reference, have)], ("bronze",), content_only=True)
        check_snapshot(lh, tally, label, [template.reference])
    tally.assert_clean()


def test_the_same_files_ingested_twice_at_once(
    lakehouse: Lakehouse,
    template: Template,
    extracts: dict[str, Extract],
    bronze_reference: Snapshot,
    tally: Tally,
    rng: random.Random,
    trials: int,
) -> None:
    lh, extract = lakehouse, extracts[COMPANY]
    have = _base_keys(extract)
    for rep in range(_repetitions(trials)):
        day = extract.days[BASE_DAYS + rep]
        label = f"ingest {day} || ingest {day}"
        results = _together(lh, [_ingest(extract, extract.folder(day))] * 2, rng)
        tally.cases += 1
        done = _settle_ingests(lh, tally, label, results)
        tally.check(
            _files_ingested(done) == 5, f"{label}: {_files_ingested(done)} file(s) ingested in all, not 5"
        )
        have |= Extract.keys(day)
        check_no_run_running(lh, tally, label)
        check_gc_and_verify(lh, tally, label)
        check_snapshot(lh, tally, label, [sum_by_day(bronze_reference, have)], ("bronze",), content_only=True)
    tally.assert_clean()


def test_an_ingest_during_a_build(
    lakehouse: Lakehouse,
    template: Template,
    extracts: dict[str, Extract],
    bronze_reference: Snapshot,
    tally: Tally,
    rng: random.Random,
) -> None:
    """The build reads the bronze versions committed when it started: the new day is not half in it."""
    lh, extract = lakehouse, extracts[COMPANY]
    day = extract.days[BASE_DAYS + 4]
    build = lh.start("build", "--company", COMPANY, "--full-refresh", "--output", "json")
    time.sleep(rng.uniform(0.2, 0.6) * template.build_seconds)
    label = f"ingest {day} during a build"
    tally.check(build.running(), f"{label}: the build had finished before the ingest started (no overlap)")
    ingest = lh.run(*_ingest(extract, extract.folder(day)))
    built = build.wait()
    lh.log(built)
    tally.cases += 1
    for result in (ingest, built):
        tally.check(result.returncode == 0, f"{label}: {result.describe()}")
        check_error(tally, label, result)
    check_no_run_running(lh, tally, label)
    check_gc_and_verify(lh, tally, label)
    expected = sum_by_day(bronze_reference, _base_keys(extract) | Extract.keys(day))
    check_snapshot(lh, tally, label, [expected], ("bronze",), content_only=True)
    if built.returncode == 0:
        as_of = built.json()["as_of"]
        if as_of == template.as_of:
            check_snapshot(lh, tally, f"{label} (the build as of {as_of})", [template.reference])
        check_versions_whole(lh, tally, label, template)
    tally.assert_clean()


@pytest.mark.long_only
@pytest.mark.also_on_object_storage
def test_gc_during_a_build(
    lakehouse: Lakehouse, template: Template, tally: Tally, rng: random.Random
) -> None:
    """gc (default retention, and --keep 1) while a build writes: the build's files are in flight."""
    lh = lakehouse
    build = lh.start("build", "--company", COMPANY, "--full-refresh", "--output", "json")
    time.sleep(rng.uniform(0, 0.3) * template.build_seconds)
    label = "gc during a build"
    gcs: list[CliResult] = []
    while build.running():
        keep = ("--keep", "1") if len(gcs) % 2 else ()
        gcs.append(lh.run("gc", "--company", COMPANY, *keep, "--output", "json"))
    built = build.wait()
    lh.log(built)
    tally.cases += 1
    tally.notes.append(f"{len(gcs)} gc run(s) during the build")
    tally.check(len(gcs) > 0, f"{label}: the build finished before any gc ran")
    for gc in gcs:
        if tally.check(gc.returncode == 0, f"{label}: {gc.describe()}"):
            continue
        check_error(tally, label, gc)
    if not tally.check(built.returncode == 0, f"{label}: the build failed: {built.describe()}"):
        tally.assert_clean()
    run_id = built.json()["run_id"]
    finished = lh.run_record(run_id).finished_at
    assert finished is not None
    for gc in gcs:
        removed = [p for p in (gc.json()["removed_files"] if gc.returncode == 0 else []) if run_id in p]
        if not removed:
            continue
        if gc.ended_at < finished.timestamp():  # this gc ended before the run did: it was in flight
            tally.finding(
                f"{label}: a gc that ended before the build's run did removed its files: {removed[:4]}"
            )
        else:  # e.g. its _work/ folder, between the run's success and the folder's own removal
            tally.notes.append(f"{label}: a gc overlapping the build's end removed {removed[:4]}")
    check_no_run_running(lh, tally, label)
    check_gc_and_verify(lh, tally, label)
    check_snapshot(lh, tally, label, [template.reference])
    current = lh.current()
    stale = sorted(n for n in template.build_set if current[n].produced_by_run_id != run_id)
    tally.check(not stale, f"{label}: not current from the build {run_id}: {stale}")
    tally.assert_clean()


@pytest.mark.long_only
def test_builds_of_two_companies_at_once(
    lakehouse: Lakehouse, template: Template, tally: Tally, rng: random.Random
) -> None:
    lh = lakehouse
    label = "build acme || build beta"
    results = _together(
        lh,
        [("build", "--company", c, "--full-refresh", "--output", "json") for c in (COMPANY, OTHER_COMPANY)],
        rng,
    )
    tally.cases += 1
    for result in results:
        tally.check(result.returncode == 0, f"{label}: {result.describe()}")
        check_error(tally, label, result)
    for company in (COMPANY, OTHER_COMPANY):
        check_no_run_running(lh, tally, label, company)
        check_gc_and_verify(lh, tally, label, company)
    check_snapshot(lh, tally, label, [template.reference])
    # beta's reference: the same build again, alone.
    beta = lh.snapshot(company=OTHER_COMPANY)
    alone = lh.run("build", "--company", OTHER_COMPANY, "--full-refresh", "--output", "json")
    if tally.check(alone.returncode == 0, f"{label}: beta's build alone failed: {alone.describe()}"):
        check_snapshot(lh, tally, f"{label}: beta's concurrent build vs alone", [beta], company=OTHER_COMPANY)
    tally.assert_clean()


def test_a_wait_build_commits_last_and_is_current(
    lakehouse: Lakehouse, template: Template, tally: Tally, rng: random.Random
) -> None:
    """A holds the lock; B waits for it (--wait) and commits last: B is current. C, without
    --wait, is refused with one line naming the holder."""
    lh = lakehouse
    label = "build A || build B --wait || build C"
    first = lh.start("build", "--company", COMPANY, "--full-refresh", "--output", "json")
    if not _wait_for_running_build(lh, first):
        tally.finding(f"{label}: build A never showed a running dbt_build run: {first.wait().describe()}")
        tally.assert_clean()
    waiting = lh.start("build", "--company", COMPANY, "--wait", "600", "--full-refresh", "--output", "json")
    refused = lh.run("build", "--company", COMPANY, "--full-refresh", "--output", "json")
    a, b = first.wait(), waiting.wait()
    lh.log(a)
    lh.log(b)
    tally.cases += 1
    for name, result in (("A", a), ("B --wait", b)):
        tally.check(result.returncode == 0, f"{label}: build {name}: {result.describe()}")
    if tally.check(
        refused.returncode != 0, f"{label}: build C ran while A held the lock: {refused.describe()}"
    ):
        check_error(tally, label, refused)
        tally.check(
            "lock" in refused.stderr.lower() or "held" in refused.stderr.lower(),
            f"{label}: C's error does not say the build lock is held: {refused.stderr.strip()}",
        )
    check_no_run_running(lh, tally, label)
    check_gc_and_verify(lh, tally, label)
    check_snapshot(lh, tally, label, [template.reference])
    if a.returncode == 0 and b.returncode == 0:
        a_run, b_run = lh.run_record(a.json()["run_id"]), lh.run_record(b.json()["run_id"])
        tally.check(
            a_run.finished_at is not None and a_run.finished_at <= b_run.started_at,
            f"{label}: B's run started at {b_run.started_at}, before A's ended at {a_run.finished_at}",
        )
        current = lh.current()
        stale = sorted(n for n in template.build_set if current[n].produced_by_run_id != b_run.run_id)
        tally.check(not stale, f"{label}: B committed last but is not current for {stale}")
    tally.assert_clean()
