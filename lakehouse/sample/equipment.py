"""What customers own and what jobs are about: brands, equipment kinds, job types per business unit.

Brand names are the canonical values of the ``equipment_brand`` field of
``config/extraction/call_transcripts.json``; ``SPOKEN`` lists the other ways a caller writes them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from lakehouse.sample.clock import DAY

YEAR = 365 * DAY

BUSINESS_UNITS = ("HVAC", "Plumbing", "Electrical")
INTENTS = ("repair", "maintenance", "replacement", "quote")

# Spellings other than the canonical one, as a caller or an agent writes them.
SPOKEN: dict[str, tuple[str, ...]] = {
    "AO Smith": ("A.O. Smith", "AO Smith", "A. O. Smith"),
    "American Standard": ("American Standard", "american standard"),
    "Square D": ("Square D", "Square-D"),
}


@dataclass(frozen=True)
class EquipmentLine:
    """A kind of equipment of one business unit: its brands, names and typical age when found."""

    business_unit: str
    names: tuple[str, ...]  # how people call it: first is the plain name
    brands: tuple[str, ...]
    max_age_years: int


LINES: tuple[EquipmentLine, ...] = (
    EquipmentLine(
        "HVAC",
        ("AC unit", "air conditioner", "AC", "central air"),
        (
            "Carrier",
            "Trane",
            "Lennox",
            "Rheem",
            "Goodman",
            "York",
            "Bryant",
            "Daikin",
            "American Standard",
            "Ruud",
        ),
        25,
    ),
    EquipmentLine(
        "HVAC",
        ("furnace", "heater", "heat pump"),
        ("Carrier", "Trane", "Lennox", "Goodman", "York", "Bryant", "Daikin", "American Standard", "Ruud"),
        30,
    ),
    EquipmentLine(
        "Plumbing", ("water heater", "hot water heater"), ("AO Smith", "Bradford White", "Rheem"), 18
    ),
    EquipmentLine("Plumbing", ("tankless water heater", "tankless"), ("Rinnai", "Navien", "Rheem"), 15),
    EquipmentLine("Electrical", ("electrical panel", "breaker panel", "panel"), ("Square D", "Eaton"), 45),
    EquipmentLine("Electrical", ("standby generator", "generator"), ("Generac", "Kohler"), 15),
)
_LINES_BY_UNIT: dict[str, tuple[EquipmentLine, ...]] = {
    unit: tuple(line for line in LINES if line.business_unit == unit) for unit in BUSINESS_UNITS
}

JOB_TYPES: dict[tuple[str, str], tuple[str, ...]] = {
    ("HVAC", "repair"): ("AC Repair", "Furnace Repair", "Heat Pump Repair", "No Cooling Call"),
    ("HVAC", "maintenance"): ("AC Tune-Up", "Furnace Tune-Up", "HVAC Maintenance Plan Visit"),
    ("HVAC", "replacement"): ("System Replacement", "AC Replacement", "Furnace Replacement"),
    ("HVAC", "quote"): ("Replacement Estimate", "Comfort Consultation"),
    ("Plumbing", "repair"): ("Water Heater Repair", "Leak Repair", "Drain Cleaning", "Toilet Repair"),
    ("Plumbing", "maintenance"): ("Water Heater Flush", "Plumbing Inspection"),
    ("Plumbing", "replacement"): ("Water Heater Replacement", "Tankless Conversion"),
    ("Plumbing", "quote"): ("Repipe Estimate", "Water Heater Estimate"),
    ("Electrical", "repair"): ("Breaker Repair", "Wiring Repair", "Outlet Repair"),
    ("Electrical", "maintenance"): ("Generator Maintenance", "Electrical Safety Inspection"),
    ("Electrical", "replacement"): ("Panel Upgrade", "Generator Replacement"),
    ("Electrical", "quote"): ("Generator Install Estimate", "EV Charger Estimate"),
}

# Job totals in cents: (low, high) per intent; replacement and quote differ by unit.
_TOTAL_RANGE: dict[tuple[str, str], tuple[int, int]] = {
    ("HVAC", "replacement"): (650_000, 1_600_000),
    ("Plumbing", "replacement"): (140_000, 480_000),
    ("Electrical", "replacement"): (220_000, 1_300_000),
}
_INTENT_RANGE: dict[str, tuple[int, int]] = {
    "repair": (14_900, 140_000),
    "maintenance": (8_900, 29_900),
    "replacement": (300_000, 900_000),
}


@dataclass(frozen=True)
class Unit:
    """One installed piece of equipment: kind, brand and installation time."""

    line: EquipmentLine
    brand: str
    installed_at: int  # simulated time, usually before the window

    def age_years(self, t: int) -> int:
        """Whole years since installation at time ``t``."""
        return max(0, (t - self.installed_at) // YEAR)


@dataclass
class Equipment:
    """The equipment a customer has for one business unit over time (a replacement job adds a unit)."""

    units: list[Unit]

    def at(self, t: int) -> Unit:
        """Return the unit in place at time ``t``."""
        for unit in reversed(self.units):
            if unit.installed_at <= t:
                return unit
        return self.units[0]


def new_equipment(rng: random.Random, business_unit: str, now: int) -> Equipment:
    """Make up the equipment a customer has for ``business_unit``, installed some years before ``now``."""
    line = rng.choice(_LINES_BY_UNIT[business_unit])
    age_days = rng.randrange(200, line.max_age_years * 365)
    return Equipment([Unit(line, rng.choice(line.brands), now - age_days * DAY)])


def replace_equipment(rng: random.Random, equipment: Equipment, at: int) -> None:
    """Install a new unit of the same kind at ``at`` (often another brand)."""
    line = equipment.units[-1].line
    equipment.units.append(Unit(line, rng.choice(line.brands), at))


def job_total_cents(rng: random.Random, unit: str, intent: str) -> int:
    """Return a plausible job total for a unit and intent, in cents."""
    if intent == "quote":  # estimate visits: free, or a diagnostic fee
        return rng.choice((0, 0, 0, 4_900, 8_900, 9_900))
    low, high = _TOTAL_RANGE.get((unit, intent), _INTENT_RANGE[intent])
    return rng.randrange(low, high + 1)


def brand_as_written(rng: random.Random, brand: str) -> str:
    """Return the brand as a transcript shows it: usual spelling, synonyms, odd casing."""
    spelled = rng.choice(SPOKEN[brand]) if brand in SPOKEN else brand
    roll = rng.random()
    if roll < 0.12:
        return spelled.lower()
    if roll < 0.17:
        return spelled.upper()
    return spelled
