"""A full disk: the data root on a small tmpfs, filled up to a few bytes before an ingest or a build.

The command must fail with one line that says the disk is full (or complete, when what was left was
enough); while the disk is still full the previous versions read back intact (``read_dataset``,
the catalog, ``lakehouse query``); once space is freed ``lakehouse runs`` leaves no run running,
gc then verify pass, and the same command completes. On SQLite the control plane lives in the
data root, as by default (``<data_root>/_control/lakehouse.db``), so it is on the full disk too.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from tests.reliability.checks import (
    Tally,
    check_error,
    check_gc_and_verify,
    check_recovered,
    check_rerun,
    check_settled,
    check_snapshot,
)
from tests.reliability.conftest import Templates
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
from tests.reliability.plugin import long_run
from tests.reliability.system import Tmpfs

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.xdist_group("reliability"),
    pytest.mark.slow,
    pytest.mark.integration,
]

#: Bytes left free before the command: nothing, a page or two, enough for some files but not all.
LEFT_FREE = {
    "ingest": [0, 8 << 10, 64 << 10, 256 << 10, 1 << 20],
    "build": [0, 64 << 10, 1 << 20, 4 << 20, 12 << 20],
}
SAYS_DISK_FULL = re.compile(
    r"no space|disk is full|disk full|enospc|not enough space|out of (disk )?space|space left", re.I
)


def _keys(days: list[str]) -> set[tuple[str, str]]:
    return set().union(*(Extract.keys(d) for d in days))


def _reads_while_full(
    lh: Lakehouse, tally: Tally, label: str, template: Template, bronze: list[Snapshot]
) -> None:
    """While the disk is full, what was published should still read back (noted when it cannot be
    read at all: SQLite cannot open its database on a full disk); a refused read must say why."""
    try:
        seen_bronze = lh.snapshot(("bronze",), content_only=True)
    except Exception as exc:
        tally.notes.append(
            f"{label}: unreadable in-process: {type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
        )
    else:
        check_snapshot(lh, tally, label, [template.reference])
        tally.check(
            any(not seen_bronze.diff(b) for b in bronze) or _only_catalog_stale(seen_bronze, bronze),
            f"{label}: bronze differs from both the state before and after: {seen_bronze.diff(bronze[0])[:4]}",
        )
    query = lh.run(
        "query", "--company", COMPANY, "--format", "json", "select count(*) as n from gold.customer_360"
    )
    if query.returncode != 0:
        check_error(tally, f"{label}: `lakehouse query`", query)
        tally.check(
            bool(SAYS_DISK_FULL.search(query.stderr)),
            f"{label}: `lakehouse query` fails and does not say the disk is full: {query.stderr.strip()[-300:]}",
        )
        tally.notes.append(
            f"{label}: `lakehouse query` fails while the disk is full: {query.stderr.strip()[-200:]}"
        )


def _only_catalog_stale(seen: Snapshot, allowed: list[Snapshot]) -> bool:
    """The control plane shows an allowed state and the catalog another one (a refresh that failed
    after the commit: checked again once space is freed and the command rerun)."""
    return any(seen.store == a.store for a in allowed) and any(seen.catalog == a.catalog for a in allowed)


@pytest.mark.parametrize("kind", ["ingest", pytest.param("build", marks=pytest.mark.long_only)])
def test_a_full_disk(
    kind: str,
    tmpfs: Tmpfs,
    template: Template,
    templates: Templates,
    extracts: dict[str, Extract],
    bronze_reference: Snapshot,
    tally: Tally,
    rng: random.Random,
    trials: int,
    tmp_path: Path,
) -> None:
    lh = templates.clone(template, tmp_path / "lakehouse", data_root=tmpfs.path / "data")
    extract = extracts[COMPANY]
    days = extract.days
    have = _keys(days[:BASE_DAYS])
    rounds = max(len(LEFT_FREE[kind]), trials // 5) if long_run() else 1
    chunks = [days[i : i + CHUNK_DAYS] for i in range(BASE_DAYS, BASE_DAYS + CHUNK_DAYS * rounds, CHUNK_DAYS)]
    usual = template.build_seconds if kind == "build" else 5.0

    # The long run tries every amount of free space (in a random order); the short run one of them.
    lefts = rng.sample(LEFT_FREE[kind], len(LEFT_FREE[kind]))
    lefts += [rng.choice(LEFT_FREE[kind]) for _ in range(rounds - len(lefts))]
    for n in range(1, rounds + 1):
        if kind == "build":
            args: tuple[str, ...] = ("build", "--company", COMPANY, "--full-refresh", "--output", "json")
            bronze_after = [sum_by_day(bronze_reference, have)]
        else:
            chunk = chunks[n - 1]
            args = (
                "ingest",
                "--company",
                COMPANY,
                "--output",
                "json",
                *[str(extract.folder(d)) for d in chunk],
            )
            bronze_after = [sum_by_day(bronze_reference, have | _keys(chunk))]
        bronze_before = [sum_by_day(bronze_reference, have)]
        left = lefts[n - 1]
        label = f"{kind} trial {n} ({template.backend}): `lakehouse {kind}` with {left} byte(s) free"
        tmpfs.fill(left)
        tally.cases += 1
        either = [*bronze_before, *bronze_after]
        try:
            result = lh.run(*args)
            if result.returncode == 0:
                tally.notes.append(f"{label}: completed ({left} bytes were enough)")
            else:
                check_error(tally, label, result)
                tally.check(
                    bool(SAYS_DISK_FULL.search(result.stderr)),
                    f"{label}: the error does not say the disk is full: {result.stderr.strip()[-300:]}",
                )
            _reads_while_full(lh, tally, f"{label}, disk still full", template, either)
        finally:
            tmpfs.free_space()
        check_recovered(lh, tally, f"{label}, space freed", template, [template.reference], either)
        # What every message advises: free some space, then run the command again.
        rerun = lh.run(*args)
        if not check_rerun(lh, tally, f"{label}, space freed", rerun, usual):
            break
        if kind == "ingest":
            have |= _keys(chunks[n - 1])
        check_settled(lh, tally, f"{label}, then rerun", template, [template.reference], bronze_after)

    check_gc_and_verify(lh, tally, "at the end")
    tally.assert_clean()
