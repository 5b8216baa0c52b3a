"""Writes the daily extract folders and the ground-truth file (kept apart, beside the extracts).

Each file is written through :func:`lakehouse.dataplane.atomic.atomic_output`, the package's one
atomic writer (temporary name in its folder, fsync, rename), so a reader never sees half a file. Its
fsyncs cost a millisecond or more a file: a year of extracts (1,825 files) takes one to three seconds
longer to write, which buys the same guarantee as every other file the package writes.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from lakehouse.dataplane.atomic import atomic_output
from lakehouse.dataplane.schemas import RAW_SCHEMAS
from lakehouse.sample.clock import Clock
from lakehouse.sample.ledger import Ledger, Value

JSONL_DATASETS = ("calls",)
"""Datasets written as JSON lines (free-text transcripts); the others are CSV."""

TRUTH_SUFFIX = ".truth"
"""The ground truth of ``<out>/`` goes to ``<out>.truth/`` by default: never inside the extracts, so
an ingest of the extracts folder (or of ``<out>/*``) only ever meets extract days."""
TRUTH_FILE = "call_facts.jsonl"
DUPLICATE_RATE = 0.004


def default_truth_dir(out_dir: Path) -> Path:
    """``<out_dir>.truth``: the folder beside ``out_dir`` that holds its ground truth."""
    out = Path(out_dir).absolute()
    return out.with_name(out.name + TRUTH_SUFFIX)


def file_name(dataset: str) -> str:
    """Return the extract file name of a dataset, e.g. ``jobs.csv`` or ``calls.jsonl``."""
    return f"{dataset}.jsonl" if dataset in JSONL_DATASETS else f"{dataset}.csv"


@contextmanager
def _atomic_text(path: Path) -> Iterator[TextIO]:
    with atomic_output(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as handle:
        yield handle


def _with_duplicates(rng: random.Random, rows: list[tuple[Value, ...]]) -> list[tuple[Value, ...]]:
    """Repeat an occasional row right after itself, as a flaky export does."""
    out: list[tuple[Value, ...]] = []
    for row in rows:
        out.append(row)
        if rng.random() < DUPLICATE_RATE:
            out.append(row)
    return out


def _write_csv(path: Path, columns: Sequence[str], rows: list[tuple[Value, ...]]) -> None:
    with _atomic_text(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(tuple("" if v is None else v for v in row) for row in rows)


def _write_jsonl(path: Path, columns: Sequence[str], rows: list[tuple[Value, ...]]) -> None:
    with _atomic_text(path) as handle:
        for row in rows:
            handle.write(json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False))
            handle.write("\n")


def write_extracts(
    out_dir: Path,
    clock: Clock,
    ledger: Ledger,
    rng: random.Random,
    on_day: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Write one folder per day with one file per dataset (header-only CSV / empty JSONL on quiet days).

    Returns:
        Lines written per dataset, duplicates included, headers excluded.
    """
    daily = {dataset: ledger.daily_rows(dataset) for dataset in RAW_SCHEMAS}
    counts = dict.fromkeys(RAW_SCHEMAS, 0)
    for day in range(clock.days):
        folder = out_dir / clock.date_text(day)
        folder.mkdir(parents=True, exist_ok=True)
        for dataset, schema in RAW_SCHEMAS.items():
            rows = _with_duplicates(rng, daily[dataset].get(day, []))
            counts[dataset] += len(rows)
            path = folder / file_name(dataset)
            if dataset in JSONL_DATASETS:
                _write_jsonl(path, schema.column_names, rows)
            else:
                _write_csv(path, schema.column_names, rows)
        if on_day is not None:
            on_day(day + 1, clock.days)
    return counts


def write_truth(truth_dir: Path, truth: list[dict[str, object]]) -> Path:
    """Write the planted transcript facts to ``truth_dir/call_facts.jsonl``, one JSON object per call,
    ordered by call id."""
    truth_dir.mkdir(parents=True, exist_ok=True)
    path = truth_dir / TRUTH_FILE
    with _atomic_text(path) as handle:
        for fact in sorted(truth, key=lambda f: str(f["call_id"])):
            handle.write(json.dumps(fact, ensure_ascii=False))
            handle.write("\n")
    return path
