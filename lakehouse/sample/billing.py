"""Estimates and invoices of completed jobs, each with its life: opened, later sold/paid or not."""

from __future__ import annotations

import random
from dataclasses import dataclass

from lakehouse.sample.business import Job, money, tax_cents
from lakehouse.sample.clock import DAY, HOUR, MINUTE, Clock
from lakehouse.sample.ledger import Ledger

_ESTIMATE_RATE = {"quote": 0.9, "repair": 0.3, "maintenance": 0.15, "replacement": 0.05}


@dataclass
class Estimate:
    """An estimate given on a job; ``decided_at`` is None while it stays open."""

    id: str
    job: Job
    created_at: int
    topic: str  # "replacement" or "repair": what the estimate is for
    subtotal: int
    decided_at: int | None = None


def _versions_folder(t: int) -> int | None:
    """Rows dated before the window belong to the first extract (the initial full load)."""
    return 0 if t < 0 else None


class Billing:
    """Makes the estimates and invoices of the jobs and records their row versions."""

    def __init__(self, rng: random.Random, clock: Clock, ledger: Ledger) -> None:
        self.rng = rng
        self.clock = clock
        self.ledger = ledger
        self.estimates: list[Estimate] = []

    def make_estimates(self, jobs: list[Job]) -> None:
        """Give estimates on some completed jobs; some get sold, some dismissed, some stay open."""
        rng = self.rng
        drafts: list[tuple[int, Job]] = []
        for job in jobs:
            if (
                job.completed_at is not None
                and not job.historical
                and rng.random() < _ESTIMATE_RATE[job.intent]
            ):
                drafts.append((job.completed_at + rng.randrange(5 * MINUTE, 40 * MINUTE), job))
        drafts.sort(key=lambda d: (d[0], d[1].id))
        for n, (created_at, job) in enumerate(drafts, start=1):
            topic = "replacement" if rng.random() < 0.7 else "repair"
            if topic == "replacement":
                subtotal = rng.randrange(150_000, 1_500_000)
            else:
                subtotal = rng.randrange(30_000, 250_000)
            estimate = Estimate(f"EST-{n:07d}", job, created_at, topic, subtotal)
            self._emit_estimate(estimate, created_at, "open")
            fate = rng.random()
            if fate < 0.4:
                decided, status = created_at + rng.randrange(DAY, 21 * DAY), "sold"
            elif fate < 0.65:
                decided, status = created_at + rng.randrange(3 * DAY, 45 * DAY), "dismissed"
            else:
                self.estimates.append(estimate)
                continue
            if self._emit_estimate(estimate, decided, status):
                estimate.decided_at = decided
            self.estimates.append(estimate)

    def _emit_estimate(self, e: Estimate, at: int, status: str) -> bool:
        tax = tax_cents(e.subtotal)
        row = (
            e.id,
            e.job.id,
            e.job.customer.id,
            self.clock.ts(e.created_at),
            status,
            money(e.subtotal),
            money(tax),
            money(e.subtotal + tax),
            self.clock.ts(at) if status == "sold" else None,
            self.clock.ts(at),
        )
        return self.ledger.add("estimates", e.id, at, row, folder_day=_versions_folder(at))

    def make_invoices(self, jobs: list[Job]) -> None:
        """Invoice every completed job with a total; most get paid, some late, some never, a few voided."""
        rng = self.rng
        drafts = sorted(
            ((job.completed_at + rng.randrange(10 * MINUTE, 2 * HOUR), job) for job in jobs
             if job.completed_at is not None and job.total_cents > 0),
            key=lambda d: (d[0], d[1].id),
        )  # fmt: skip
        for n, (issued, job) in enumerate(drafts, start=1):
            invoice_id = f"INV-{n:07d}"
            subtotal = job.total_cents
            total = subtotal + tax_cents(subtotal)
            steps: list[tuple[int, str, int]] = [(issued, "open", total)]  # (time, status, balance)
            fate = rng.random()
            if job.historical:
                fate = min(fate, 0.79) if rng.random() < 0.95 else 0.99
            if fate < 0.35:
                steps.append((issued + rng.randrange(MINUTE, 30 * MINUTE), "paid", 0))
            elif fate < 0.8:
                steps.append((issued + rng.randrange(DAY, 60 * DAY), "paid", 0))
            elif fate < 0.84:
                partial = issued + rng.randrange(3 * DAY, 20 * DAY)
                steps.append((partial, "open", total // 2))
                steps.append((partial + rng.randrange(5 * DAY, 50 * DAY), "paid", 0))
            elif fate < 0.87:
                steps.append((issued + rng.randrange(DAY, 10 * DAY), "void", total))
            terms = 30 if job.customer.commercial else 15
            for at, status, balance in steps:
                row = (
                    invoice_id,
                    job.id,
                    job.customer.id,
                    self.clock.day_text(issued),
                    self.clock.date_text(issued // DAY + terms),
                    money(subtotal),
                    money(total - subtotal),
                    money(total),
                    money(balance),
                    status,
                    self.clock.ts(at) if status == "paid" else None,
                    self.clock.ts(at),
                )
                if not self.ledger.add("invoices", invoice_id, at, row, folder_day=_versions_folder(at)):
                    break
