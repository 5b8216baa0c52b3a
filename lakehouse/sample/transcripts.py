"""Call transcripts with planted facts (equipment brand, system age, intent) and their ground truth.

Every sentence that carries a fact is tagged with it while the transcript is written, so the truth is
what the text says, not what the simulation intended: the intent is the highest-priority intent cue in
the text (priority of ``config/extraction/call_transcripts.json``), the brand and age are the ones
mentioned. A small share of mentions is hard on purpose (a misspelled brand, an age in words, a problem
described without an intent keyword): the truth keeps them, so extraction recall stays honest.
Filler sentences avoid every brand, age phrase and intent keyword.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from lakehouse.sample.equipment import Unit, brand_as_written

INTENT_PRIORITY = ("replacement", "repair", "quote", "maintenance")

_MISSPELLED = {
    "Carrier": "Carier",
    "Lennox": "Lenox",
    "Goodman": "Goodmen",
    "Daikin": "Diakin",
    "Rheem": "Reem",
}
_NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                 "fifteen sixteen seventeen eighteen nineteen twenty").split()  # fmt: skip
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")

_CUES: dict[str, tuple[str, ...]] = {
    "repair": (
        "{E} stopped working this morning.",
        "{E} is not working at all.",
        "I think {e} is broken.",
        "{E} is leaking all over the floor.",
        "I need someone to repair {e}.",
        "{E} won't turn on.",
        "Can you send someone to fix {e}?",
    ),
    "replacement": (
        "I think it's time to replace {e}.",
        "We're looking at a replacement for {e}.",
        "I'd like to talk about replacing {e}.",
        "We want a new system instead of {e}.",
    ),
    "quote": (
        "Can I get a quote on {e}?",
        "How much would it cost to have someone look at {e}?",
        "I'd like an estimate for {e}.",
        "What's the price to have someone come out for {e}?",
    ),
    "maintenance": (
        "I'd like to schedule a tune-up for {e}.",
        "{E} is due for its annual maintenance.",
        "I'd like to set up a maintenance visit for {e}.",
        "Can someone come out and do an inspection on {e}?",
    ),
}
_IMPLICIT_REPAIR = ("{E} is making a loud grinding noise.", "{E} keeps tripping and shutting off.")
_AGE_LINES = (
    "It's {n} years old.",
    "It's about {n} years old.",
    "It was installed {n} years ago.",
    "We've had it about {n} years.",
    "I think it's {n} years old, maybe a bit more.",
)
_BRAND_LINES = ("It's a {b}.", "The brand is {b}.", "It's a {b}, I think.", "The label on it says {b}.")
_GREETINGS = (
    "Thank you for calling, this is {agent}. How can I help you today?",
    "Good morning, this is {agent} speaking. How can I help?",
    "Thanks for calling, you've reached {agent}. What can I do for you?",
)
_FILLER = (
    "We're home all day, so any time works.",
    "Please call before you come, the dog gets excited.",
    "The gate code is {code}.",
    "It's the house with the blue door.",
    "My husband usually handles this stuff.",
    "Sorry, it's a bit loud here.",
)
_NOT_BOOKED = (
    "I need to talk to my wife first, I'll call you back.",
    "Okay, thanks for the information. I'll think about it.",
    "Let me look at my calendar and get back to you.",
    "That's more than I expected, I'll call back later.",
)


@dataclass(frozen=True)
class Facts:
    """What a transcript says, in canonical form; None where it says nothing."""

    equipment_brand: str | None = None
    system_age_years: int | None = None
    intent: str | None = None

    def planted(self) -> bool:
        """Whether the transcript states any fact at all."""
        return not (self.equipment_brand is None and self.system_age_years is None and self.intent is None)


@dataclass(frozen=True)
class Caller:
    """Who is on the line and what they own, at the time of the call."""

    name: str
    first: str
    phone: str  # 10 digits
    address: str | None
    equipment: Unit | None  # the unit in place at the time of the call
    at: int


@dataclass
class _Script:
    lines: list[str] = field(default_factory=list)
    cues: list[str] = field(default_factory=list)
    brand: str | None = None
    age: int | None = None

    def say(self, who: str, text: str) -> None:
        if self.lines and self.lines[-1].startswith(f"{who}: "):
            self.lines[-1] += " " + text  # one turn per speaker change
        else:
            self.lines.append(f"{who}: {text}")

    def facts(self) -> Facts:
        intent = next((i for i in INTENT_PRIORITY if i in self.cues), None)
        return Facts(self.brand, self.age, intent)


class TranscriptWriter:
    """Writes transcripts for each kind of call; every method returns ``(text, facts)``."""

    def __init__(self, rng: random.Random, brand_rate: float = 0.6, age_rate: float = 0.4) -> None:
        self._rng = rng
        self._brand_rate = brand_rate
        self._age_rate = age_rate

    # --- fact-bearing pieces ------------------------------------------------------------------------

    def _brand_text(self, script: _Script, caller: Caller) -> str:
        assert caller.equipment is not None
        brand = caller.equipment.brand
        script.brand = brand
        if brand in _MISSPELLED and self._rng.random() < 0.03:
            return _MISSPELLED[brand]
        return brand_as_written(self._rng, brand)

    def _equipment_phrase(self, script: _Script, caller: Caller, with_brand: bool, owner: str = "") -> str:
        if caller.equipment is None:
            return "the system"
        name = self._rng.choice(caller.equipment.line.names)
        owner = owner or self._rng.choice(("my", "our", "the"))
        if with_brand:
            return f"{owner} {self._brand_text(script, caller)} {name}"
        return f"{owner} {name}"

    def _intent_line(self, script: _Script, intent: str, equipment: str, plumbing: bool = False) -> str:
        if intent == "repair" and self._rng.random() < 0.03:
            template = self._rng.choice(_IMPLICIT_REPAIR)
        else:
            template = self._rng.choice([t for t in _CUES[intent] if plumbing or "leaking" not in t])
        script.cues.append(intent)
        return template.format(e=equipment, E=equipment[0].upper() + equipment[1:])

    def _age_line(self, script: _Script, caller: Caller) -> str | None:
        if caller.equipment is None:
            return None
        age = caller.equipment.age_years(caller.at)
        if age == 0:
            return "It's less than a year old."
        script.age = age
        if age == 1:
            return "It's 1 year old."
        if age < len(_NUMBER_WORDS) and self._rng.random() < 0.03:
            return f"It's about {_NUMBER_WORDS[age]} years old."
        return self._rng.choice(_AGE_LINES).format(n=age)

    def _problem(self, script: _Script, caller: Caller, intent: str | None, who: str = "Customer") -> None:
        """Say what the call is about: intent, maybe brand and age, in a few different orders."""
        rng = self._rng
        mention_brand = caller.equipment is not None and rng.random() < self._brand_rate
        inline_brand = mention_brand and rng.random() < 0.6
        equipment = self._equipment_phrase(script, caller, inline_brand)
        parts: list[str] = []
        plumbing = caller.equipment is not None and caller.equipment.line.business_unit == "Plumbing"
        if intent is not None:
            parts.append(self._intent_line(script, intent, equipment, plumbing))
        if mention_brand and not inline_brand:
            parts.append(rng.choice(_BRAND_LINES).format(b=self._brand_text(script, caller)))
        if rng.random() < self._age_rate:
            age_line = self._age_line(script, caller)
            if age_line is not None:
                parts.append(age_line)
        if intent in ("replacement", "repair") and rng.random() < 0.2:
            parts.append(self._intent_line(script, "quote", "it"))
        if parts:
            script.say(who, " ".join(parts))

    # --- call kinds ----------------------------------------------------------------------------------

    def booking(self, caller: Caller, agent: str, intent: str, callback: bool = False) -> tuple[str, Facts]:
        """A call that books a job: inbound, or an outbound ``callback`` after a missed call."""
        rng, script = self._rng, _Script()
        if callback:
            script.say("Agent", f"Hi, this is {agent}, returning a call from this number.")
            script.say("Customer", f"Yes, thanks for calling back, this is {caller.name}.")
        else:
            script.say("Agent", rng.choice(_GREETINGS).format(agent=agent))
            script.say("Customer", f"Hi, this is {caller.name}.")
        self._problem(script, caller, intent)
        if intent == "repair" and rng.random() < 0.7:
            script.say("Agent", "I'm sorry to hear that.")
        script.say(
            "Agent", rng.choice(("Sure, I can help with that.", "Okay, let me get that set up.", "Okay."))
        )
        if caller.address is not None:
            script.say("Agent", "Can you confirm the address for the visit?")
            script.say("Customer", f"Yes, it's {caller.address}.")
        if rng.random() < 0.3:
            script.say("Customer", rng.choice(_FILLER).format(code=rng.randrange(1000, 9999)))
        window = rng.choice(("8 and 10", "10 and 12", "12 and 2", "2 and 4"))
        script.say("Agent", f"I have an opening {rng.choice(_WEEKDAYS)} between {window}.")
        script.say("Customer", rng.choice(("That works.", "Perfect, thank you.", "Okay, that's fine.")))
        script.say("Agent", "Great, you're all set. You'll get a text when the technician is on the way.")
        return "\n".join(script.lines), script.facts()

    def inquiry(self, caller: Caller, agent: str, intent: str | None) -> tuple[str, Facts]:
        """An inbound call answered but not booked."""
        rng, script = self._rng, _Script()
        script.say("Agent", rng.choice(_GREETINGS).format(agent=agent))
        if intent is None:
            script.say("Customer", rng.choice((
                "Hi, I'm calling to confirm my appointment time.",
                "Hi, I wanted to update the email on my account.",
                "Do you work on weekends?",
                "Hi, someone called me from this number earlier.",
            )))  # fmt: skip
            script.say("Agent", "Sure, let me pull that up for you. All done.")
            script.say("Customer", "Great, thanks.")
            return "\n".join(script.lines), script.facts()
        script.say("Customer", f"Hi, my name is {caller.name}.")
        self._problem(script, caller, intent)
        script.say(
            "Agent", "We'd have to send someone out to look at it first. Would you like to book a visit?"
        )
        script.say("Customer", rng.choice(_NOT_BOOKED))
        return "\n".join(script.lines), script.facts()

    def voicemail(self, caller: Caller, intent: str | None) -> tuple[str, Facts]:
        """A message the caller left after hours or while every line was busy."""
        rng, script = self._rng, _Script()
        script.say("Customer", f"Hi, this is {caller.name}.")
        if intent is not None:
            self._problem(script, caller, intent)
        number = f"{caller.phone[:3]}-{caller.phone[3:6]}-{caller.phone[6:]}"
        script.say(
            "Customer", rng.choice((f"Please call me back at {number}.", "Call me back when you can."))
        )
        return "\n".join(script.lines), script.facts()

    def abandoned(self) -> tuple[str | None, Facts]:
        """A call dropped before anyone spoke, mostly without any transcript."""
        if self._rng.random() < 0.8:
            return None, Facts()
        return "Customer: Hello? Hello?", Facts()

    def callback(self, caller: Caller, agent: str, answered: bool, intent: str | None) -> tuple[str, Facts]:
        """An outbound call returning a missed or unbooked inbound call."""
        script = _Script()
        if not answered:
            script.say("Agent", f"Hi, this is {agent} returning your call. Please call us back when you can.")
            return "\n".join(script.lines), script.facts()
        script.say("Agent", f"Hi, this is {agent}, returning a call from this number.")
        script.say("Customer", "Oh yes, thanks for calling back.")
        if intent is not None:
            self._problem(script, caller, intent)
            script.say("Agent", "Let me see what we have open.")
        else:
            script.say("Customer", "I actually already got it sorted out, thanks.")
        return "\n".join(script.lines), script.facts()

    def followup(self, caller: Caller, agent: str, topic: str, answered: bool) -> tuple[str, Facts]:
        """An outbound call chasing an open estimate; ``topic`` is replacement or repair."""
        rng, script = self._rng, _Script()
        equipment = self._equipment_phrase(script, caller, rng.random() < 0.7, owner="your")
        work = "replacement" if topic == "replacement" else "repair"
        script.cues.extend(("quote", topic))
        script.say("Agent", f"Hi {caller.first}, this is {agent}. I'm following up on the estimate for the "
                            f"{work} of {equipment}.")  # fmt: skip
        if not answered:
            script.say("Agent", "Give us a call back if you have any questions.")
        else:
            script.say(
                "Customer", rng.choice(("We're still thinking about it.", "We decided to hold off for now."))
            )
        return "\n".join(script.lines), script.facts()

    def reminder(self, caller: Caller, agent: str, answered: bool) -> tuple[str, Facts]:
        """An outbound call offering the yearly maintenance visit."""
        rng, script = self._rng, _Script()
        name = caller.equipment.line.names[0] if caller.equipment is not None else "system"
        script.cues.append("maintenance")
        script.say(
            "Agent", f"Hi {caller.first}, this is {agent}. Your {name} is due for its annual maintenance."
        )
        if answered:
            script.say("Customer", rng.choice(("Not right now, thanks.", "Can you call me next month?")))
        return "\n".join(script.lines), script.facts()
