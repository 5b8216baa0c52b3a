"""Sample data: realistic daily extracts of a field-service company.

:func:`generate` writes ``out_dir/YYYY-MM-DD/`` for each of ``days`` days ending on ``end_date``, each
holding ``customers.csv``, ``jobs.csv``, ``estimates.csv``, ``invoices.csv`` and ``calls.jsonl`` with the
columns of :data:`lakehouse.dataplane.schemas.RAW_SCHEMAS`, in order. A day's files hold the rows created or
updated that day (the first day also holds the pre-existing customers and their recent history, as an
initial full load), so one id shows up on several days with a newer ``updated_at``. Every reference
points at a row that appeared on the same day or earlier. The data carries the dirt of real extracts:
phone numbers in five formats, emails with odd casing and stray blanks, lower-case states, and now and
then the same line twice in a file.

``<out_dir>.truth/call_facts.jsonl`` (or ``truth_dir``) holds the facts planted in the call transcripts
(see :mod:`lakehouse.sample.transcripts`). It is kept out of the extracts folder, so ``lakehouse ingest
<out_dir>/*`` only ever meets extract days.

Volume is linear in ``scale`` and ``days``: ``scale=1`` over 365 days is about 10,000 customers and
100,000 jobs (plus ~5 % historical jobs in the first day), ~145,000 calls, ~30,000 estimates and ~90,000
invoices: ~530,000 lines, since updates repeat ids; it takes about 30 s and 600 MB. The default
``scale=0.05`` over 90 days (~125 customers, ~1,250 jobs, ~1,800 calls) takes well under a second, so
``lakehouse demo`` stays quick. The output is a pure function of the arguments: no wall clock, no
global random state (``random.Random(seed)`` only).
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from lakehouse.errors import InvalidArgumentError
from lakehouse.names import validate_slug
from lakehouse.sample.billing import Billing
from lakehouse.sample.business import BASE_CUSTOMERS, BASE_JOBS, BusinessSimulation, scaled_count
from lakehouse.sample.calls import CallSimulation
from lakehouse.sample.clock import Clock
from lakehouse.sample.ledger import Ledger
from lakehouse.sample.people import PhoneBook
from lakehouse.sample.writer import default_truth_dir, write_extracts, write_truth

logger = logging.getLogger(__name__)

DEFAULT_DAYS = 90
DEFAULT_SCALE = 0.05
DEFAULT_SEED = 42
DEFAULT_END_DATE = date(2026, 9, 30)
MAX_DAYS = 3_660
MAX_SCALE = 50.0
MAX_COMPANY_YEARS = 50  # scale * days / 365 cap: keeps memory and phone numbers in bounds

_INQUIRIES_PER_JOB = 0.3
_REMINDERS_PER_JOB = 0.05


@dataclass(frozen=True)
class GenerationSummary:
    """What :func:`generate` wrote.

    Attributes:
        company: the company slug the data was generated for.
        out_dir: the folder holding one sub-folder per day.
        days: the extract dates, oldest first (one folder each).
        row_counts: lines written per dataset over all days (duplicates included, headers excluded).
        truth_path: the ground-truth file of planted transcript facts.
        truth_rows: number of calls in the ground-truth file.
        seed: the random seed used.
        scale: the volume factor used.
    """

    company: str
    out_dir: Path
    days: tuple[date, ...]
    row_counts: dict[str, int] = field(hash=False)
    truth_path: Path
    truth_rows: int
    seed: int
    scale: float

    @property
    def total_rows(self) -> int:
        """Lines written over every dataset and day."""
        return sum(self.row_counts.values())


def _validate(company: str, days: int, scale: float) -> None:
    validate_slug("company", company)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidArgumentError("days", days, f"a whole number from 1 to {MAX_DAYS}")
    if not isinstance(scale, int | float) or not math.isfinite(scale) or not 0 < scale <= MAX_SCALE:
        raise InvalidArgumentError("scale", scale, f"a number above 0 and at most {MAX_SCALE:g}")
    if scale * days / 365 > MAX_COMPANY_YEARS:
        raise InvalidArgumentError(
            "scale", scale, f"scale x days / 365 at most {MAX_COMPANY_YEARS} (got {scale * days / 365:g})"
        )


def generate(
    company: str,
    out_dir: Path,
    days: int = DEFAULT_DAYS,
    scale: float = DEFAULT_SCALE,
    seed: int = DEFAULT_SEED,
    end_date: date = DEFAULT_END_DATE,
    on_day_written: Callable[[int, int], None] | None = None,
    truth_dir: Path | None = None,
) -> GenerationSummary:
    """Generate ``days`` daily extracts ending on ``end_date`` into ``out_dir``.

    Args:
        company: company slug (1-63 of a-z, 0-9, '_' or '-', starting with a letter or digit).
        out_dir: folder to write into (created if missing); existing day files are overwritten.
        days: number of extract days, 1 to 3660.
        scale: volume factor; 1.0 is ~10,000 customers and ~100,000 jobs per 365 days.
        seed: random seed; the same arguments always produce byte-identical files.
        end_date: the last extract day.
        on_day_written: called with ``(days_done, days_total)`` after each day folder is written.
        truth_dir: folder for the ground truth (``call_facts.jsonl``); default ``<out_dir>.truth``
            beside ``out_dir``. It may not lie inside ``out_dir``.

    Returns:
        A summary of the folders and row counts written.

    Raises:
        InvalidNameError: ``company`` is not a valid slug.
        InvalidArgumentError: ``days`` or ``scale`` is out of range, or ``truth_dir`` is inside ``out_dir``.
    """
    _validate(company, days, scale)
    truth_dir = Path(truth_dir).absolute() if truth_dir is not None else default_truth_dir(out_dir)
    if truth_dir.resolve().is_relative_to(Path(out_dir).resolve()):
        raise InvalidArgumentError(
            "truth_dir",
            str(truth_dir),
            f"a folder outside the extracts folder {out_dir} (ingest reads all of it)",
        )
    rng = random.Random(seed)
    clock = Clock(end_date, days)
    ledger = Ledger(days)
    phones = PhoneBook(rng)
    logger.info("generating %d days of sample data for %s at scale %s into %s", days, company, scale, out_dir)

    business = BusinessSimulation(rng, clock, ledger, phones)
    business.make_customers(scaled_count(BASE_CUSTOMERS, scale, days, minimum=3))
    job_count = scaled_count(BASE_JOBS, scale, days, minimum=10)
    business.make_jobs(job_count)
    billing = Billing(rng, clock, ledger)
    billing.make_estimates(business.jobs)
    billing.make_invoices(business.jobs)
    calls = CallSimulation(rng, clock, ledger, phones)
    calls.bookings(business.jobs)
    calls.inquiries(round(job_count * _INQUIRIES_PER_JOB), business.customers)
    calls.followups(billing.estimates)
    calls.reminders(round(job_count * _REMINDERS_PER_JOB), business.customers)
    calls.record()

    out_dir.mkdir(parents=True, exist_ok=True)
    counts = write_extracts(out_dir, clock, ledger, rng, on_day_written)
    truth_path = write_truth(truth_dir, calls.truth)
    logger.info("wrote %s rows and %d planted call facts", counts, len(calls.truth))
    return GenerationSummary(
        company=company,
        out_dir=out_dir,
        days=tuple(clock.date_of(d) for d in range(days)),
        row_counts=counts,
        truth_path=truth_path,
        truth_rows=len(calls.truth),
        seed=seed,
        scale=float(scale),
    )
