"""The checks every reliability case ends with: nothing left running, verify passes, every current
silver/gold digests as the reference, no run published part of what it should, a rerun completes.

Each check records a finding on the test's tally instead of stopping at the first one, so a run of
the suite reports every trial that went wrong; the test fails at its end if anything was found.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from tests.reliability.harness import (
    COMPANY,
    CliResult,
    Lakehouse,
    Snapshot,
    Template,
    partial_runs,
    runs_left_running,
)

T = TypeVar("T")


@dataclass
class Tally:
    """What one test did (trials, crashes injected, cases) and what it found."""

    nodeid: str
    trials: int = 0
    crashes: int = 0
    cases: int = 0
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Where the crashes landed, by what the killed command's runs became (see :func:`crash_point`).
    crash_points: Counter[str] = field(default_factory=Counter)

    def check(self, condition: bool, message: str) -> bool:
        """Record ``message`` as a finding unless ``condition`` holds; return ``condition``."""
        if not condition:
            self.findings.append(message)
        return condition

    def finding(self, message: str) -> None:
        self.findings.append(message)

    def assert_clean(self) -> None:
        assert not self.findings, f"{len(self.findings)} finding(s):\n" + "\n".join(
            f"- {f}" for f in self.findings
        )

    def summary(self) -> str:
        found = f", {len(self.findings)} finding(s)" if self.findings else ""
        points = "; ".join(f"{n}x {point}" for point, n in self.crash_points.most_common())
        return (
            f"{self.nodeid}: {self.trials} trial(s), {self.crashes} crash(es) injected, "
            f"{self.cases} case(s){found}" + (f"\n    crash points: {points}" if points else "")
        )


def run_ids(lh: Lakehouse) -> set[str]:
    """Every run of the company (read in-process: no recovery pass)."""
    return {r.run_id for r in lh.runs_in_process()}


def crash_point(lh: Lakehouse, before: Collection[str]) -> str:
    """What the runs a killed command started became: none started yet, died (marked failed), or
    finished (e.g. ``dbt_build success + transcript_pipeline died``)."""
    new = [r for r in reversed(lh.runs_in_process()) if r.run_id not in before]
    if not new:
        return "before any run started"
    parts = []
    for run in new:
        error = str((run.error or {}).get("message", ""))
        state = "died" if run.status == "failed" and "died" in error else run.status
        parts.append(f"{run.pipeline_name} {state}")
    return " + ".join(parts)


def guarded(tally: Tally, label: str, what: str, read: Callable[[], T]) -> T | None:
    """Run a read of the outcome; an exception is a finding (the data cannot be read back)."""
    try:
        return read()
    except Exception as exc:
        tally.finding(f"{label}: {what} raised {type(exc).__name__}: {' '.join(str(exc).split())[:400]}")
        return None


def check_no_run_running(lh: Lakehouse, tally: Tally, label: str, company: str = COMPANY) -> None:
    """``lakehouse runs`` (the recovery pass) must list no run as running."""
    runs = lh.runs(company)
    left = runs_left_running(runs)
    if left is None:
        tally.finding(f"{label}: `lakehouse runs` failed: {runs.describe()}")
    elif left:
        tally.finding(f"{label}: run(s) still 'running' after `lakehouse runs` (the recovery pass): {left}")


def check_gc_and_verify(lh: Lakehouse, tally: Tally, label: str, company: str = COMPANY) -> list[str]:
    """``gc --keep 1000`` then ``verify``: both must succeed, verify with no problem, and gc leave no
    run's scratch in the local folders (:meth:`Lakehouse.local_leftovers`). Returns what gc removed."""
    removed: list[str] = []
    gc = lh.run("gc", "--company", company, "--keep", "1000", "--output", "json")
    if gc.returncode != 0:
        tally.finding(f"{label}: `lakehouse gc` failed: {gc.describe()}")
    else:
        removed = list(gc.json().get("removed_files", []))
        left = lh.local_leftovers(company)
        tally.check(
            not left, f"{label}: `lakehouse gc` (nothing running) left in the local folders: {left[:6]}"
        )
    verify = lh.run("verify", "--company", company, "--output", "json")
    if verify.returncode != 0:
        try:
            problems = [f"{p['kind']} {p['path']}" for p in verify.json()["problems"]]
            tally.finding(f"{label}: `lakehouse verify` failed after gc: {problems[:6]}")
        except Exception:
            tally.finding(f"{label}: `lakehouse verify` failed after gc: {verify.describe()}")
    return removed


def check_snapshot(
    lh: Lakehouse,
    tally: Tally,
    label: str,
    expected: Sequence[Snapshot],
    zones: tuple[str, ...] = ("silver", "gold"),
    content_only: bool = False,
    company: str = COMPANY,
) -> Snapshot | None:
    """What readers see of ``zones`` must be one of ``expected`` (the catalog and read_dataset alike)."""
    seen = guarded(
        tally, label, f"reading {'/'.join(zones)}", lambda: lh.snapshot(zones, company, content_only)
    )
    if seen is None:
        return None
    diffs = [seen.diff(e) for e in expected]
    if not all(diffs):
        return seen
    what = "the reference" if len(expected) == 1 else f"any of the {len(expected)} allowed states"
    store_ok = any(seen.store == e.store for e in expected)
    if store_ok and seen.catalog != seen.store:
        # read_dataset (the control plane) is right; the catalog file lags behind it.
        stale = [
            f"{name}: catalog {_count(seen.catalog.get(name))} rows, read_dataset {_count(seen.store.get(name))}"
            for name in sorted(set(seen.catalog) | set(seen.store))
            if seen.catalog.get(name) != seen.store.get(name)
        ]
        tally.finding(
            f"{label}: the catalog ({'/'.join(zones)} as DuckDB clients read <company>/catalog.duckdb) "
            f"does not show what is committed (read_dataset does): {stale[:3]}"
        )
        return seen
    closest = min(diffs, key=len)
    tally.finding(f"{label}: {'/'.join(zones)} differs from {what}: {closest[:6]}")
    return seen


def _count(digest: tuple[int, int] | None) -> str:
    return "no" if digest is None else str(digest[0])


def check_versions_whole(lh: Lakehouse, tally: Tally, label: str, template: Template) -> None:
    """No run committed part of its datasets; the build's datasets are all current from one run."""
    versions = guarded(tally, label, "listing versions", lambda: lh.versions(COMPANY))
    if versions is None:
        return
    for problem in partial_runs(versions, template.allowed_sets):
        tally.finding(f"{label}: partial publish: {problem}")
    current = guarded(tally, label, "listing current versions", lambda: lh.current(COMPANY))
    if current is None:
        return
    runs = {current[name].produced_by_run_id for name in template.build_set if name in current}
    tally.check(
        len(runs) == 1 and set(template.build_set) <= set(current),
        f"{label}: the build's datasets are not all current from one run: {sorted(runs)}",
    )


def check_recovered(
    lh: Lakehouse,
    tally: Tally,
    label: str,
    template: Template,
    silver_gold: Sequence[Snapshot],
    bronze: Sequence[Snapshot],
) -> None:
    """After a crash: the recovery pass, gc and verify, the digests, whole versions."""
    check_no_run_running(lh, tally, label)
    check_gc_and_verify(lh, tally, label)
    check_snapshot(lh, tally, label, silver_gold)
    check_snapshot(lh, tally, label, bronze, ("bronze",), content_only=True)
    check_versions_whole(lh, tally, label, template)


def check_settled(
    lh: Lakehouse,
    tally: Tally,
    label: str,
    template: Template,
    silver_gold: Sequence[Snapshot],
    bronze: Sequence[Snapshot],
) -> None:
    """After a command that completed: nothing running, the digests, whole versions (no gc/verify:
    each test ends with one)."""
    check_no_run_running(lh, tally, label)
    check_snapshot(lh, tally, label, silver_gold)
    check_snapshot(lh, tally, label, bronze, ("bronze",), content_only=True)
    check_versions_whole(lh, tally, label, template)


def check_rerun(lh: Lakehouse, tally: Tally, label: str, rerun: CliResult, usual_seconds: float) -> bool:
    """The same command, rerun at once after a crash, must complete in about its usual time."""
    if rerun.returncode != 0:
        tally.finding(f"{label}: the same command rerun at once failed: {rerun.describe()}")
        return False
    if rerun.seconds > 3 * usual_seconds + 30:
        tally.finding(
            f"{label}: the rerun took {rerun.seconds:.0f}s (usually {usual_seconds:.0f}s): "
            "it waited for the dead process"
        )
    return True


def check_error(tally: Tally, label: str, result: CliResult) -> None:
    """A command that failed must fail with one clear line."""
    problem = result.error_problem()
    if result.returncode != 0 and problem is not None:
        tally.finding(f"{label}: unclear failure of `{result.command}`: {problem}")


def check_cli_reads(lh: Lakehouse, tally: Tally, label: str, company: str = COMPANY) -> None:
    """``lakehouse query`` (the analysts' read path) digests every silver/gold view as this harness does."""
    seen = guarded(tally, label, "reading the catalog", lambda: lh.snapshot(company=company))
    if seen is None or not seen.catalog:
        return
    via_cli = guarded(tally, label, "lakehouse query", lambda: lh.query_digests(seen.catalog, company))
    if via_cli is not None:
        tally.check(
            via_cli == seen.catalog,
            f"{label}: `lakehouse query` digests differ from the catalog's: {sorted(set(via_cli.items()) ^ set(seen.catalog.items()))[:4]}",
        )
