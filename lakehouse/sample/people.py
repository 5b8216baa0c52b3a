"""Names, addresses, phone numbers and emails, with the dirt real CRM extracts carry.

Word lists avoid every equipment brand and intent keyword of the shipped extraction config (no customer
called "Bryant", "York" or "Price"), so a name in a transcript never looks like an extracted fact.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FIRST_NAMES = (
    "Maria", "James", "Linda", "Robert", "Patricia", "Michael", "Jennifer", "David", "Elizabeth", "William",
    "Susan", "Richard", "Jessica", "Joseph", "Sarah", "Thomas", "Karen", "Daniel", "Nancy", "Matthew",
    "Lisa", "Anthony", "Betty", "Mark", "Sandra", "Paul", "Ashley", "Steven", "Kimberly", "Andrew",
    "Emily", "Joshua", "Donna", "Kevin", "Michelle", "Brian", "Carol", "George", "Amanda", "Luis",
    "Sofia", "Carlos", "Ana", "Jorge", "Priya", "Wei", "Mei", "Omar", "Fatima", "Nguyen",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Taylor", "Moore", "Jackson", "Martin", "Lee",
    "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Torres", "Hill", "Flores", "Green", "Adams",
    "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Roberts", "Patel", "Tran", "Kim",
)  # fmt: skip
COMMERCIAL_SUFFIXES = (
    "Property Management", "Dental", "Family Clinic", "Bakery", "Auto Body", "Law Office", "Realty",
    "Apartments", "Cafe", "Veterinary Hospital", "Fitness", "Church", "Storage", "Montessori School",
)  # fmt: skip
STREET_NAMES = (
    "Oak", "Maple", "Cedar", "Pecan", "Elm", "Willow", "Mesquite", "Live Oak", "Bluebonnet", "Sunset",
    "Ridge", "Lakeview", "Hillcrest", "Creekside", "Meadow", "Canyon", "Brazos", "Guadalupe", "Lamar",
    "Riverside", "Spring Hollow", "Forest", "Juniper", "Magnolia", "Prairie",
)  # fmt: skip
STREET_TYPES = ("St", "Ave", "Dr", "Ln", "Blvd", "Ct", "Way", "Trl", "Cv")
CITIES = (
    ("Austin", "787"), ("Round Rock", "786"), ("Pflugerville", "786"), ("Cedar Park", "786"),
    ("Georgetown", "786"), ("Leander", "786"), ("Kyle", "786"), ("Buda", "786"), ("San Marcos", "786"),
)  # fmt: skip
AREA_CODES = ("512", "737", "254", "830", "210", "979")
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "att.net")
AGENT_NAMES = ("Dana", "Marcus", "Tasha", "Rene", "Kelsey", "Jamal", "Brooke", "Hector", "Lauren", "Devin")


@dataclass(frozen=True)
class Person:
    """Contact details of a customer as the CRM should hold them (clean form)."""

    first: str
    last: str
    display_name: str
    email: str | None
    phone: str | None  # 10 digits
    street: str | None
    city: str | None
    state: str | None
    zip: str | None


class PhoneBook:
    """Hands out unique 10-digit phone numbers so a number identifies one caller.

    Central-Texas area codes, any valid exchange: 4.8 million numbers, far more than any scale needs.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: dict[str, None] = {}

    def new_number(self) -> str:
        """Return a phone number (10 digits) not handed out before."""
        while True:
            exchange = self._rng.randrange(200, 1_000)
            number = f"{self._rng.choice(AREA_CODES)}{exchange}{self._rng.randrange(10_000):04d}"
            if number not in self._used:
                self._used[number] = None
                return number


def format_phone(rng: random.Random, digits: str) -> str:
    """Write a 10-digit number in one of the formats seen in real extracts."""
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    style = rng.random()
    if style < 0.35:
        return f"({area}) {exchange}-{line}"
    if style < 0.55:
        return f"{area}.{exchange}.{line}"
    if style < 0.75:
        return f"+1 {area} {exchange} {line}"
    if style < 0.9:
        return digits
    return f"{area}-{exchange}-{line}"


def dirty_email(rng: random.Random, email: str) -> str:
    """Return ``email`` with the casing and stray whitespace of hand-typed data, sometimes."""
    roll = rng.random()
    if roll < 0.12:
        local, _, domain = email.partition("@")
        email = f"{local.title()}@{domain.capitalize()}"
    elif roll < 0.17:
        email = email.upper()
    roll = rng.random()
    if roll < 0.06:
        email = " " + email
    elif roll < 0.12:
        email = email + "  "
    return email


def dirty_state(rng: random.Random, state: str) -> str:
    """Return the state code, lower-cased now and then."""
    return state.lower() if rng.random() < 0.08 else state


def new_person(rng: random.Random, phones: PhoneBook, commercial: bool) -> Person:
    """Make up a customer: residential person or small business, Austin area."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    display = f"{last} {rng.choice(COMMERCIAL_SUFFIXES)}" if commercial else f"{first} {last}"
    email: str | None = None
    if rng.random() < 0.88:
        local = f"{first}.{last}" if rng.random() < 0.6 else f"{first[0]}{last}{rng.randrange(1, 99)}"
        domain = f"{last.lower()}co.com" if commercial else rng.choice(EMAIL_DOMAINS)
        email = f"{local.lower()}@{domain}"
    phone = phones.new_number() if rng.random() < 0.97 else None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip_code: str | None = None
    if rng.random() < 0.96:
        street = f"{rng.randrange(100, 19_999)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)}"
        city, zip_prefix = rng.choice(CITIES)
        state = "TX"
        zip_code = f"{zip_prefix}{rng.randrange(1, 99):02d}"
    return Person(first, last, display, email, phone, street, city, state, zip_code)
