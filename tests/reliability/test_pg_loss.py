"""PostgreSQL lost mid-run, and back.

A throwaway server of the test's own (its own port and folder) is SIGKILLed while a build or an
ingest runs, and restarted once the command has ended. The command must fail with one line (or
complete, if it no longer needed the server); a command started while the server is down must fail
with one line too; once the server is back, ``lakehouse runs`` leaves no run running, nothing is
half-published (gc, verify, digests, whole versions) and the same command completes.
"""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

import pytest

from tests.reliability.checks import (
    Tally,
    check_cli_reads,
    check_error,
    check_gc_and_verify,
    check_recovered,
    check_rerun,
    check_settled,
    crash_point,
    run_ids,
)
from tests.reliability.harness import (
    BASE_DAYS,
    CHUNK_DAYS,
    COMPANY,
    CliResult,
    Extract,
    Lakehouse,
    Snapshot,
    build_template,
    sum_by_day,
)
from tests.reliability.plugin import long_run
from tests.reliability.system import ThrowawayPostgres

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.xdist_group("reliability"),
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.postgres,
]

#: How long a command may take to notice that the server is gone.
NOTICE_TIMEOUT = 300.0


def _keys(days: list[str]) -> set[tuple[str, str]]:
    return set().union(*(Extract.keys(d) for d in days))


def _lose_server_during(
    server: ThrowawayPostgres, lh: Lakehouse, args: tuple[str, ...], delay: float, tally: Tally, label: str
) -> CliResult:
    """Start ``args``, kill the server ``delay`` seconds in, let the command end, restart the server."""
    command = lh.start(*args)
    try:
        command.proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        pass
    alive = command.running()
    killed_at = time.monotonic()
    server.kill()
    tally.crashes += alive
    try:
        down = lh.run("runs", "--company", COMPANY, "--output", "json", timeout=NOTICE_TIMEOUT)
        tally.check(down.returncode != 0, f"{label}: `lakehouse runs` succeeded with the server down")
        check_error(tally, f"{label} (`lakehouse runs` while the server is down)", down)
        result = command.wait(NOTICE_TIMEOUT)
        lh.log(result)
    finally:
        server.start()
    if result.killed:
        tally.finding(f"{label}: still running {NOTICE_TIMEOUT:.0f}s after the server was lost (hung)")
    elif result.returncode != 0:
        check_error(tally, label, result)
        tally.notes.append(
            f"{label}: failed {time.monotonic() - killed_at:.1f}s after the loss: {result.stderr.strip()[-200:]}"
        )
    elif alive:
        tally.notes.append(f"{label}: completed although the server was lost (it no longer needed it)")
    return result


def test_postgres_lost_mid_run_and_back(
    throwaway_pg: ThrowawayPostgres,
    extracts: dict[str, Extract],
    bronze_reference: Snapshot,
    tally: Tally,
    rng: random.Random,
    trials: int,
    tmp_path: Path,
) -> None:
    url = throwaway_pg.create_database("lakehouse")
    lh = Lakehouse(tmp_path / "lakehouse", tmp_path / "lakehouse" / "data", url)
    template = build_template(lh, "postgres-throwaway", extracts, companies=(COMPANY,))
    extract = extracts[COMPANY]
    rounds = max(1, trials // 3) if long_run() else 1
    build = ("build", "--company", COMPANY, "--full-refresh", "--output", "json")

    # Builds first (bronze stays as built, so every build digests as the reference).
    for n in range(1, rounds + 1):
        delay = rng.uniform(0.1, 0.9) * template.build_seconds
        label = f"build trial {n}: server SIGKILLed {delay:.2f}s into `lakehouse build` of ~{template.build_seconds:.1f}s"
        tally.trials += 1
        before_runs = run_ids(lh)
        _lose_server_during(throwaway_pg, lh, build, delay, tally, label)
        check_recovered(lh, tally, label, template, [template.reference], [template.bronze])
        tally.crash_points[crash_point(lh, before_runs)] += 1
        rerun = lh.run(*build)
        if not check_rerun(lh, tally, label, rerun, template.build_seconds):
            break
        check_settled(lh, tally, f"{label}, then rerun", template, [template.reference], [template.bronze])

    if not long_run():  # the short run loses the server during a build only
        check_gc_and_verify(lh, tally, "at the end")
        tally.assert_clean()
        return

    days = extract.days
    have = _keys(days[:BASE_DAYS])
    chunks = [
        days[i : i + CHUNK_DAYS] for i in range(BASE_DAYS, BASE_DAYS + CHUNK_DAYS * (rounds + 1), CHUNK_DAYS)
    ]

    def ingest(chunk: list[str]) -> tuple[str, ...]:
        return ("ingest", "--company", COMPANY, "--output", "json", *[str(extract.folder(d)) for d in chunk])

    duration = lh.ok(*ingest(chunks[0])).seconds
    have |= _keys(chunks[0])
    for n, chunk in enumerate(chunks[1:], start=1):
        delay = rng.uniform(0.1, 0.9) * duration
        label = f"ingest trial {n}: server SIGKILLed {delay:.2f}s into `lakehouse ingest` of {' '.join(chunk)} (~{duration:.1f}s)"
        tally.trials += 1
        before_runs = run_ids(lh)
        _lose_server_during(throwaway_pg, lh, ingest(chunk), delay, tally, label)
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
