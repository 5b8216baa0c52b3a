"""Phone calls: bookings, inquiries, missed calls and their callbacks, estimate follow-ups, reminders.

``from_number`` is always the external party's number (the customer or prospect), for inbound and
outbound calls alike, written in a format that varies from call to call. About half of the unbooked
inbound calls get an outbound callback to the same number within three hours, some a day or two later,
the rest never.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from lakehouse.sample.billing import Estimate
from lakehouse.sample.business import Customer, Job
from lakehouse.sample.clock import DAY, HOUR, MINUTE, Clock
from lakehouse.sample.equipment import BUSINESS_UNITS, new_equipment
from lakehouse.sample.ledger import Ledger
from lakehouse.sample.people import AGENT_NAMES, FIRST_NAMES, LAST_NAMES, PhoneBook, format_phone
from lakehouse.sample.transcripts import Caller, Facts, TranscriptWriter

AGENT_IDS = tuple(f"A{n:02d}" for n in range(1, len(AGENT_NAMES) + 1))

_INQUIRY_INTENTS = (("quote", 45), ("repair", 15), ("replacement", 15), ("maintenance", 10), (None, 15))
_VOICEMAIL_INTENTS = (("repair", 40), ("quote", 20), ("maintenance", 15), ("replacement", 10), (None, 15))


@dataclass(frozen=True)
class _Draft:
    started_at: int
    duration: int
    direction: str
    outcome: str
    customer_id: str | None
    phone: str
    agent_id: str | None
    job_id: str | None
    transcript: str | None
    facts: Facts


def _pick(rng: random.Random, weighted: tuple[tuple[str | None, int], ...]) -> str | None:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


class CallSimulation:
    """Makes the calls around jobs and estimates, and the ground truth of their transcripts."""

    def __init__(self, rng: random.Random, clock: Clock, ledger: Ledger, phones: PhoneBook) -> None:
        self.rng = rng
        self.clock = clock
        self.ledger = ledger
        self.phones = phones
        self.writer = TranscriptWriter(rng)
        self.drafts: list[_Draft] = []
        self.truth: list[dict[str, object]] = []

    # --- helpers -------------------------------------------------------------------------------------

    def _caller(self, customer: Customer, at: int, business_unit: str) -> Caller:
        p = customer.person
        name = f"{p.first} from {p.display_name}" if customer.commercial else p.display_name
        address = f"{p.street}, {p.city}" if p.street is not None else None
        unit = customer.equipment_for(self.rng, business_unit).at(at)
        assert p.phone is not None
        return Caller(name, p.first, p.phone, address, unit, at)

    def _prospect(self, at: int) -> Caller:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        unit = new_equipment(rng, rng.choice(BUSINESS_UNITS), at).at(at)
        return Caller(f"{first} {last}", first, self.phones.new_number(), None, unit, at)

    def _agent(self) -> tuple[str, str]:
        i = self.rng.randrange(len(AGENT_IDS))
        return AGENT_IDS[i], AGENT_NAMES[i]

    def _add(self, at: int, duration: int, direction: str, outcome: str, customer: Customer | None, phone: str,
             agent_id: str | None, job_id: str | None, text: str | None, facts: Facts) -> None:  # fmt: skip
        customer_id = customer.id if customer is not None and customer.listed_at <= at + duration else None
        if text is not None and self.rng.random() < 0.1:
            text = text.lower()  # speech-to-text output without casing
        self.drafts.append(
            _Draft(at, duration, direction, outcome, customer_id, phone, agent_id, job_id, text, facts)
        )

    def _callback_time(self, after: int) -> int | None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.5:
            t = after + rng.randrange(5 * MINUTE, 3 * HOUR)
        elif roll < 0.65:
            t = after + rng.randrange(20 * HOUR, 60 * HOUR)
        else:
            return None
        if not 7 * HOUR <= t % DAY < 20 * HOUR:  # agents call back during opening hours
            t = (t // DAY + (1 if t % DAY >= 20 * HOUR else 0)) * DAY + rng.randrange(8 * HOUR, 10 * HOUR)
        return t

    # --- call kinds ----------------------------------------------------------------------------------

    def bookings(self, jobs: list[Job]) -> None:
        """The call that booked each job (for most jobs), sometimes a callback after a missed call."""
        rng, w = self.rng, self.writer
        for job in jobs:
            c = job.customer
            if job.historical or c.person.phone is None or rng.random() >= 0.7:
                continue
            duration = rng.randrange(120, 720)
            start = job.created_at - duration - rng.randrange(0, 90)
            caller = self._caller(c, start, job.business_unit)
            agent_id, agent = self._agent()
            direction = "inbound"
            if rng.random() < 0.12:
                missed = job.created_at - rng.randrange(20 * MINUTE, 150 * MINUTE)
                if rng.random() < 0.6:
                    text, facts = w.abandoned()
                    self._add(missed, rng.randrange(0, 25), "inbound", "abandoned", c, caller.phone, None, None,
                              text, facts)  # fmt: skip
                else:
                    text, facts = w.voicemail(caller, job.intent)
                    self._add(missed, rng.randrange(15, 90), "inbound", "voicemail", c, caller.phone, None, None,
                              text, facts)  # fmt: skip
                direction = "outbound"
            text, facts = w.booking(caller, agent, job.intent, callback=direction == "outbound")
            self._add(start, duration, direction, "booked", c, caller.phone, agent_id, job.id, text, facts)

    def inquiries(self, count: int, customers: list[Customer]) -> None:
        """Inbound calls that book nothing: questions, abandoned calls, voicemails, and their callbacks."""
        rng, w = self.rng, self.writer
        reachable = [c for c in customers if c.person.phone is not None]
        for day in self.clock.random_days(rng, count):
            evening = rng.random() < 0.15
            at = self.clock.business_time(rng, day, 19, 22) if evening else self.clock.business_time(rng, day)
            customer: Customer | None = rng.choice(reachable) if reachable and rng.random() < 0.75 else None
            if customer is not None and customer.listed_at > at:
                customer = None
            unit = rng.choices(BUSINESS_UNITS, weights=customer.unit_mix)[0] if customer else "HVAC"
            caller = self._caller(customer, at, unit) if customer is not None else self._prospect(at)
            roll = rng.random()
            intent: str | None
            text: str | None
            agent_id: str | None
            if evening or roll < 0.22:
                outcome, intent = "voicemail", _pick(rng, _VOICEMAIL_INTENTS)
                text, facts = w.voicemail(caller, intent)
                agent_id, duration = None, rng.randrange(15, 90)
            elif roll < 0.55:
                outcome, intent = "abandoned", None
                text, facts = w.abandoned()
                agent_id, duration = None, rng.randrange(0, 25)
            else:
                outcome, intent = "not_booked", _pick(rng, _INQUIRY_INTENTS)
                agent_id, agent = self._agent()
                text, facts = w.inquiry(caller, agent, intent)
                duration = rng.randrange(60, 420)
            self._add(at, duration, "inbound", outcome, customer, caller.phone, agent_id, None, text, facts)
            back = self._callback_time(at + duration)
            if back is not None:
                agent_id, agent = self._agent()
                answered = rng.random() < 0.6
                text, facts = w.callback(replace(caller, at=back), agent, answered, intent)
                self._add(back, rng.randrange(60, 300) if answered else rng.randrange(15, 60), "outbound",
                          "not_booked" if answered else "voicemail", customer, caller.phone, agent_id, None,
                          text, facts)  # fmt: skip

    def followups(self, estimates: list[Estimate]) -> None:
        """Outbound calls chasing estimates that are still open a few days after they were given."""
        rng, w = self.rng, self.writer
        for e in estimates:
            c = e.job.customer
            at = self.clock.business_time(rng, (e.created_at + rng.randrange(2 * DAY, 8 * DAY)) // DAY, 9, 18)
            if (
                c.person.phone is None
                or (e.decided_at is not None and e.decided_at <= at)
                or rng.random() > 0.55
            ):
                continue
            agent_id, agent = self._agent()
            answered = rng.random() < 0.5
            text, facts = w.followup(self._caller(c, at, e.job.business_unit), agent, e.topic, answered)
            self._add(at, rng.randrange(60, 400) if answered else rng.randrange(20, 60), "outbound",
                      "not_booked" if answered else "voicemail", c, c.person.phone, agent_id, e.job.id,
                      text, facts)  # fmt: skip

    def reminders(self, count: int, customers: list[Customer]) -> None:
        """Outbound calls offering the yearly maintenance visit."""
        rng, w = self.rng, self.writer
        reachable = [c for c in customers if c.person.phone is not None]
        if not reachable:
            return
        for day in self.clock.random_days(rng, count):
            at = self.clock.business_time(rng, day, 9, 18)
            c = rng.choice(reachable)
            if c.listed_at > at:
                continue
            agent_id, agent = self._agent()
            answered = rng.random() < 0.4
            unit = rng.choices(BUSINESS_UNITS, weights=c.unit_mix)[0]
            text, facts = w.reminder(self._caller(c, at, unit), agent, answered)
            assert c.person.phone is not None
            self._add(at, rng.randrange(40, 200) if answered else rng.randrange(15, 45), "outbound",
                      "not_booked" if answered else "voicemail", c, c.person.phone, agent_id, None, text,
                      facts)  # fmt: skip

    # --- output --------------------------------------------------------------------------------------

    def record(self) -> None:
        """Number the calls in time order and record their rows and ground truth."""
        rng, clock = self.rng, self.clock
        self.drafts.sort(key=lambda d: (d.started_at, d.phone))
        for n, d in enumerate(self.drafts, start=1):
            call_id = f"CALL-{n:08d}"
            end = d.started_at + d.duration
            row = (
                call_id,
                d.customer_id,
                format_phone(rng, d.phone),
                d.direction,
                clock.ts(d.started_at),
                d.duration,
                d.outcome,
                d.agent_id,
                d.job_id,
                d.transcript,
                clock.ts(end),
            )
            if self.ledger.add("calls", call_id, end, row) and d.transcript is not None and d.facts.planted():
                self.truth.append({
                    "call_id": call_id,
                    "customer_id": d.customer_id,
                    "equipment_brand": d.facts.equipment_brand,
                    "system_age_years": d.facts.system_age_years,
                    "intent": d.facts.intent,
                })  # fmt: skip
