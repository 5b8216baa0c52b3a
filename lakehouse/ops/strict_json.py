"""Strict JSON for human- or tool-written files: a key twice or NaN / Infinity refused, positions kept.

:func:`strict_loads` reads one JSON text (a gate file, a line of the legacy ``runs.jsonl``);
:class:`JsonCursor` walks the legacy ``tasks.json`` knowing the line of every position, so each task
is reported by the line it starts on and a broken file by line and column.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from lakehouse.errors import LegacyFileError


def strict_decoder() -> json.JSONDecoder:
    """A decoder that refuses a key appearing twice in one object, and NaN / Infinity."""
    return json.JSONDecoder(object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)


class JsonCursor:
    """A cursor over JSON text that knows the line of every position (for tasks.json's task lines)."""

    def __init__(self, file: str, text: str, decoder: json.JSONDecoder) -> None:
        self.file = file
        self.text = text
        self.pos = 0
        self.decoder = decoder

    def line(self, pos: int | None = None) -> int:
        return self.text.count("\n", 0, self.pos if pos is None else pos) + 1

    def fail(self, problem: str, pos: int | None = None) -> NoReturn:
        at = self.pos if pos is None else pos
        column = at - (self.text.rfind("\n", 0, at) + 1) + 1
        # Complete JSON text ends with its top-level '}' (or ']'): without it, the file was cut short.
        partial = "" if self.text.rstrip().endswith(("}", "]")) else " (the file ends early: partly written?)"
        raise LegacyFileError(
            self.file, f"line {self.line(at)}, column {column}", f"invalid JSON: {problem}{partial}"
        )

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def take(self, char: str) -> bool:
        self.skip()
        if self.text.startswith(char, self.pos):
            self.pos += 1
            return True
        return False

    def expect(self, char: str, problem: str) -> None:
        if not self.take(char):
            self.fail(problem)

    def value(self) -> object:
        self.skip()
        try:
            value, self.pos = self.decoder.raw_decode(self.text, self.pos)
        except json.JSONDecodeError as exc:
            self.fail(exc.msg, exc.pos)
        except ValueError as exc:  # a key twice, NaN / Infinity
            self.fail(str(exc))
        return value

    def array(self) -> list[tuple[int, object]]:
        """The elements of the array starting here, each with the line it starts on."""
        self.expect("[", "tasks must be an array of task objects")
        items: list[tuple[int, object]] = []
        if self.take("]"):
            return items
        while True:
            self.skip()
            line = self.line()
            items.append((line, self.value()))
            if self.take("]"):
                return items
            self.expect(",", "expected ',' or ']' after a task")

    def end(self) -> None:
        self.skip()
        if self.pos != len(self.text):
            self.fail("extra text after the top-level object")


def strict_loads(text: str) -> object:
    """One JSON text, read as :func:`strict_decoder` reads it."""
    return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"key {key!r} appears more than once")
        obj[key] = value
    return obj


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def json_type(value: object) -> str:
    """What kind of JSON value ``value`` is, for a message ("an array", "null"...)."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "a number"
