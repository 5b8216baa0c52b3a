"""Simulation of the company's customers and jobs over the extract window.

Customers who existed before the window appear in the first day's extract (the initial full load), with
up to three historical completed jobs each, so "no job for many months" can already be seen there; new
customers appear the day they are created, mostly while booking their first job. Each job is scheduled,
then completed, canceled or left in progress; replacement jobs swap the customer's equipment.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from lakehouse.sample.clock import DAY, HOUR, MINUTE, Clock
from lakehouse.sample.equipment import (
    BUSINESS_UNITS,
    JOB_TYPES,
    Equipment,
    job_total_cents,
    new_equipment,
    replace_equipment,
)
from lakehouse.sample.ledger import Ledger
from lakehouse.sample.people import Person, PhoneBook, dirty_email, dirty_state, format_phone, new_person

BASE_CUSTOMERS = 10_000  # per year at scale 1
BASE_JOBS = 100_000  # per year at scale 1
_INTENT_WEIGHTS = (("repair", 0.5), ("maintenance", 0.25), ("replacement", 0.1), ("quote", 0.15))
_UNIT_MIX = ((0.55, 0.3, 0.15), (0.8, 0.15, 0.05), (0.25, 0.6, 0.15), (0.3, 0.2, 0.5))
TECHNICIANS = tuple(f"T{n:03d}" for n in range(1, 25))


@dataclass
class Customer:
    """A customer and what the simulation knows about them."""

    id: str
    person: Person
    commercial: bool
    created_at: int
    listed_at: int  # updated_at of the first extract row
    weight: float  # relative number of jobs
    active_until: int  # no new jobs after this time (churn, do-not-service)
    unit_mix: tuple[float, float, float]
    equipment: dict[str, Equipment] = field(default_factory=dict)

    def equipment_for(self, rng: random.Random, business_unit: str) -> Equipment:
        """Return the customer's equipment for a business unit, making it up on first use."""
        if business_unit not in self.equipment:
            self.equipment[business_unit] = new_equipment(rng, business_unit, self.created_at)
        return self.equipment[business_unit]


@dataclass
class Job:
    """A job and its life: created, scheduled, then completed, canceled or still open."""

    id: str
    customer: Customer
    business_unit: str
    intent: str
    job_type: str
    created_at: int
    scheduled_for: int
    completed_at: int | None = None
    total_cents: int = 0
    historical: bool = False


def money(cents: int) -> str:
    """Format cents as a decimal amount with two digits."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def tax_cents(subtotal: int) -> int:
    """Sales tax of 8.25 %, rounded half up to the cent."""
    return (subtotal * 825 + 5_000) // 10_000


def scaled_count(base: int, scale: float, days: int, minimum: int) -> int:
    """Return ``base * scale * days / 365`` rounded, at least ``minimum``."""
    return max(minimum, round(base * scale * days / 365))


class BusinessSimulation:
    """Makes up customers and jobs and records their row versions in a :class:`Ledger`."""

    def __init__(self, rng: random.Random, clock: Clock, ledger: Ledger, phones: PhoneBook) -> None:
        self.rng = rng
        self.clock = clock
        self.ledger = ledger
        self.phones = phones
        self.customers: list[Customer] = []
        self.jobs: list[Job] = []

    # --- customers -----------------------------------------------------------------------------------

    def make_customers(self, count: int) -> None:
        """Create ``count`` customers: 40 % existing before the window, the rest created in it."""
        rng, clock = self.rng, self.clock
        existing = round(count * 0.4)
        created: list[int] = [-rng.randrange(60 * DAY, 6 * 365 * DAY) for _ in range(existing)]
        created += [clock.business_time(rng, day) for day in clock.random_days(rng, count - existing)]
        created.sort()
        for n, created_at in enumerate(created, start=1):
            commercial = rng.random() < 0.15
            listed_at = rng.randrange(HOUR, 6 * HOUR) if created_at < 0 else created_at
            weight = rng.lognormvariate(0.0, 0.9) * (3.0 if commercial else 1.0)
            active_until = clock.end
            roll = rng.random()
            if created_at < 0 and roll < 0.25:
                active_until = -1  # dormant: only historical jobs
            elif roll < 0.37:
                active_until = rng.randrange(max(listed_at, 0), clock.end)  # churns in the window
            customer = Customer(
                id=f"CUS-{n:07d}",
                person=new_person(rng, self.phones, commercial),
                commercial=commercial,
                created_at=created_at,
                listed_at=listed_at,
                weight=weight,
                active_until=active_until,
                unit_mix=rng.choice(_UNIT_MIX),
            )
            self.customers.append(customer)
            self._emit_customer(customer, listed_at, customer.person, do_not_service=False)
            if rng.random() < 0.1:
                self._update_customer(customer)

    def _emit_customer(self, c: Customer, at: int, p: Person, do_not_service: bool) -> None:
        rng = self.rng
        row = (
            c.id,
            p.display_name,
            "commercial" if c.commercial else "residential",
            dirty_email(rng, p.email) if p.email is not None else None,
            format_phone(rng, p.phone) if p.phone is not None else None,
            p.street,
            p.city,
            dirty_state(rng, p.state) if p.state is not None else None,
            p.zip,
            self.clock.ts(c.created_at),
            self.clock.ts(at),
            "true" if do_not_service else "false",
        )
        self.ledger.add("customers", c.id, at, row, folder_day=0 if at < 0 else None)

    def _update_customer(self, c: Customer) -> None:
        rng = self.rng
        at = rng.randrange(max(c.listed_at, 0) + HOUR, self.clock.end + DAY)
        p = c.person
        roll = rng.random()
        do_not_service = False
        if roll < 0.15:
            do_not_service = True
            c.active_until = min(c.active_until, at)
        elif roll < 0.5:
            local = f"{p.first}.{p.last}{rng.randrange(1, 99)}".lower()
            p = Person(**{**p.__dict__, "email": f"{local}@gmail.com"})
        elif roll < 0.75 and p.street is not None:
            p = Person(**{**p.__dict__, "street": f"{rng.randrange(100, 19_999)} Ranch Rd"})
        c.person = p  # phone digits never change, so calls still match the customer
        self._emit_customer(c, at, p, do_not_service)

    # --- jobs ----------------------------------------------------------------------------------------

    def make_jobs(self, count: int) -> None:
        """Create about ``count`` jobs in the window, plus historical jobs of pre-existing customers."""
        rng, clock = self.rng, self.clock
        pending: list[tuple[int, Customer, bool]] = []
        for c in self.customers:
            if c.created_at < 0:
                for _ in range(rng.choice((0, 1, 1, 2, 3))):
                    first_day = max(c.created_at // DAY + 1, -540)
                    t = clock.business_time(rng, rng.randrange(first_day, -12))
                    pending.append((t, c, True))
            elif rng.random() < 0.8 and c.active_until > c.created_at:
                pending.append((c.created_at + rng.randrange(2 * MINUTE, 10 * MINUTE), c, False))
        first_jobs = sum(1 for _, _, historical in pending if not historical)
        eligible = [c for c in self.customers if c.active_until >= 0]
        if eligible:
            cum: list[float] = []
            total = 0.0
            for c in eligible:
                total += c.weight
                cum.append(total)
            for day in clock.random_days(rng, max(0, count - first_jobs)):
                t = clock.business_time(rng, day)
                customer = self._pick_customer(eligible, cum, t)
                if customer is not None:
                    pending.append((t, customer, False))
        pending.sort(key=lambda item: (item[0], item[1].id))
        for n, (t, customer, historical) in enumerate(pending, start=1):
            self._make_job(f"JOB-{n:08d}", customer, t, historical)

    def _pick_customer(self, eligible: list[Customer], cum: list[float], t: int) -> Customer | None:
        for _ in range(30):
            (c,) = self.rng.choices(eligible, cum_weights=cum)
            if c.created_at < t <= c.active_until and c.listed_at <= t:
                return c
        return None

    def _make_job(self, job_id: str, c: Customer, created_at: int, historical: bool) -> None:
        rng = self.rng
        weights = [w for _, w in _INTENT_WEIGHTS]
        intent = rng.choices([i for i, _ in _INTENT_WEIGHTS], weights=weights)[0]
        unit = rng.choices(BUSINESS_UNITS, weights=c.unit_mix)[0]
        c.equipment_for(rng, unit)
        day = created_at // DAY
        if intent == "repair" and rng.random() < 0.3:
            scheduled = created_at + rng.randrange(HOUR, 4 * HOUR)
        else:
            scheduled = (day + rng.randrange(1, 11)) * DAY + rng.choice((8, 10, 12, 14, 16)) * HOUR
        job = Job(job_id, c, unit, intent, rng.choice(JOB_TYPES[(unit, intent)]), created_at, scheduled)
        job.historical = historical
        self.jobs.append(job)
        fate = rng.random()
        if historical:
            fate = max(fate, 0.2)  # the backfill holds completed jobs only
        tech = rng.choice(TECHNICIANS)
        events: list[tuple[int, str, str | None]] = [
            (created_at, "scheduled", tech if rng.random() < 0.4 else None)
        ]
        if fate < 0.07:
            events.append((rng.randrange(created_at + MINUTE, scheduled), "canceled", None))
        elif fate < 0.12:
            events.append((scheduled + 10 * MINUTE, "in_progress", tech))
            done_day = scheduled // DAY + rng.randrange(1, 3)
            job.completed_at = done_day * DAY + rng.randrange(10 * HOUR, 17 * HOUR)
        else:
            job.completed_at = scheduled + rng.randrange(HOUR, 4 * HOUR)
        if job.completed_at is not None:
            job.total_cents = job_total_cents(rng, unit, intent)
            events.append((job.completed_at, "completed", tech))
            if intent == "replacement":
                replace_equipment(rng, c.equipment[unit], job.completed_at)
        for at, status, technician in events:
            done = status == "completed"
            row = (
                job.id,
                c.id,
                job.job_type,
                unit,
                technician,
                status,
                self.clock.ts(created_at),
                self.clock.ts(scheduled),
                self.clock.ts(at) if done else None,
                money(job.total_cents if done else 0),
                self.clock.ts(at),
            )
            if not self.ledger.add("jobs", job.id, at, row, folder_day=0 if at < 0 else None):
                job.completed_at = None  # the rest happens after the window: not seen yet
                break
