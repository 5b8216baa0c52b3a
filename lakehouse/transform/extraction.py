r"""Field extraction from free text (call transcripts) and per-customer profiles.

An :class:`~lakehouse.config.models.ExtractionConfig` declares fields of three kinds. Each compiles once
into a matcher; matching is case-insensitive throughout, and runs column-wise over many texts:

- ``vocabulary``: every phrase of every canonical value goes into one alternation. A phrase matches as
  a whole word or phrase: the characters right before and after it are not letters, digits or ``_``
  (or are the start/end of the text), and any run of whitespace inside a phrase matches any
  whitespace. **Rule: the match that starts first in the text wins; among matches starting at the same
  position, the longest phrase wins** ("Carrier Infinity" over "Carrier"). The value is the canonical
  name of the matched phrase.
- ``pattern``: Python regular expressions, tried in the order listed; **the first pattern with a
  usable match wins, and within a pattern the first match in the text**. A match is usable when its
  ``value`` group converts to ``value_type`` and, for numbers, is finite and within ``[min, max]``;
  otherwise the next match is tried.
- ``keyword_classes``: **the first class in ``priority`` order with any keyword hit wins**, wherever
  the hit is; keywords match like vocabulary phrases.

A None or blank text yields None for every field.

Speed: on many texts (:meth:`Extractor.extract_columns`) vocabulary and keyword matching run
vectorised in Arrow's RE2 engine (the alternations are generated here, so their syntax is under our
control); on one text (:meth:`Extractor.extract`) the same alternations run in Python's ``re``. The two
agree (``[^\pL\pN_]`` in RE2 is ``\W`` in Python; both fold case). Pattern fields always use Python's
``re`` (the config promises Python syntax), but on many texts only on those containing the literal
text every match of the pattern requires (found by parsing the pattern; compared lower-cased,
vectorised). 100,000 transcripts take one to two seconds.

:func:`extract_table` runs an extractor over the rows of a calls table; :func:`build_profiles` keeps,
per entity (customer), each field's latest value (see its docstring for the exact rule).
"""

from __future__ import annotations

import importlib
import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.config.models import ExtractionConfig, KeywordClassField, PatternField, VocabularyField
from lakehouse.errors import SchemaMismatchError, TransformError

logger = logging.getLogger(__name__)

FieldValue = str | int | float | None
"""What one field of one text extracts to."""

_ENTITY, _ID, _TS = "__entity", "__id", "__ts"  # never clash with output names: field names start a-z
CALLS_ANALYZED = "calls_analyzed"
LAST_CALL_AT = "last_call_at"
_NOT_WORD = r"[^\pL\pN_]"  # RE2: anything but a letter, digit or underscore


def _key(phrase: str) -> str:
    """Normal form of a phrase or matched text: lower-cased, single spaces."""
    return " ".join(phrase.lower().split())


def _re2_literal(word: str) -> str:
    """Escape a word for RE2: ASCII punctuation gets a backslash, everything else is literal."""
    return "".join("\\" + ch if ch.isascii() and not ch.isalnum() else ch for ch in word)


def _phrase_pattern(phrases: Iterable[str]) -> str:
    """RE2 pattern matching any of ``phrases`` as whole words; group ``m`` holds the phrase matched.

    Alternatives are ordered longest first: RE2 (like Perl) takes the first alternative that matches at
    the leftmost position, so the longest phrase starting there wins.
    """
    keys = sorted({_key(p) for p in phrases}, key=lambda k: (-len(k), k))
    body = "|".join(r"\s+".join(_re2_literal(w) for w in key.split(" ")) for key in keys)
    return f"(?i)(?:^|{_NOT_WORD})(?P<m>{body})(?:{_NOT_WORD}|$)"


def _python_phrase_regex(phrases: Iterable[str]) -> re.Pattern[str]:
    """The Python ``re`` twin of :func:`_phrase_pattern`, used on single texts."""
    keys = sorted({_key(p) for p in phrases}, key=lambda k: (-len(k), k))
    body = "|".join(r"\s+".join(re.escape(w) for w in key.split(" ")) for key in keys)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


def _required_literal(pattern: str) -> str | None:
    """Return the longest literal text (lower-cased) that every match of ``pattern`` contains, if any.

    Best effort from Python's regex parser: consecutive literal characters at the top level of the
    pattern or inside groups; alternations, repeats and classes end a run. None when the parser is not
    available or no run of at least 3 characters exists, and then the pattern runs on every text.
    """
    try:
        parser: Any = importlib.import_module("re._parser")
        constants: Any = importlib.import_module("re._constants")
        parsed = parser.parse(pattern, re.IGNORECASE)
    except (ImportError, AttributeError, re.error):
        return None
    runs: list[str] = []
    current: list[str] = []

    def walk(items: Iterable[tuple[Any, Any]]) -> None:
        for op, arg in items:
            if op is constants.LITERAL:
                current.append(chr(arg))
            elif op is constants.SUBPATTERN:
                walk(arg[-1])
            else:
                runs.append("".join(current))
                current.clear()

    walk(parsed)
    runs.append("".join(current))
    best = max(runs, key=len).lower()
    return best if len(best) >= 3 else None


@dataclass(frozen=True)
class _VocabularyMatcher:
    pattern: str  # RE2, for columns
    regex: re.Pattern[str]  # Python twin, for single texts
    canonical: dict[str, str]  # phrase key -> canonical value

    def one(self, text: str) -> FieldValue:
        match = self.regex.search(text)
        return None if match is None else self.canonical[_key(match.group(0))]

    def run(self, texts: pa.Array) -> list[FieldValue]:
        found = pc.extract_regex(texts, self.pattern).to_pylist()
        return [None if m is None else self.canonical[_key(m["m"])] for m in found]


@dataclass(frozen=True)
class _PatternMatcher:
    regexes: tuple[tuple[re.Pattern[str], str | None], ...]  # (regex, required lower-case literal)
    convert: Callable[[str], FieldValue]
    low: float | None
    high: float | None

    def _usable(self, raw: str | None) -> FieldValue:
        if raw is None:
            return None
        try:
            value = self.convert(raw)
        except ValueError:
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, int | float) and (
            (self.low is not None and value < self.low) or (self.high is not None and value > self.high)
        ):
            return None
        return value

    def one(self, text: str) -> FieldValue:
        for regex, _ in self.regexes:
            for match in regex.finditer(text):
                value = self._usable(match.group("value"))
                if value is not None:
                    return value
        return None

    def run(self, texts: pa.Array) -> list[FieldValue]:
        values: list[FieldValue] = [None] * len(texts)
        done = [False] * len(texts)
        lowered = pc.utf8_lower(texts)
        for regex, literal in self.regexes:
            mask = pc.is_valid(texts) if literal is None else pc.match_substring(lowered, literal)
            todo = [i for i in pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist() if not done[i]]
            for i, text in zip(todo, texts.take(pa.array(todo, pa.int64())).to_pylist(), strict=True):
                for match in regex.finditer(text):
                    value = self._usable(match.group("value"))
                    if value is not None:
                        values[i], done[i] = value, True
                        break
        return values


@dataclass(frozen=True)
class _KeywordClassMatcher:
    classes: tuple[tuple[str, str, re.Pattern[str]], ...]  # (class, RE2 pattern, Python twin), by priority

    def one(self, text: str) -> FieldValue:
        for name, _, regex in self.classes:
            if regex.search(text) is not None:
                return name
        return None

    def run(self, texts: pa.Array) -> list[FieldValue]:
        result = pa.nulls(len(texts), pa.string())
        for name, pattern, _ in reversed(self.classes):
            hit = pc.fill_null(pc.match_substring_regex(texts, pattern), False)
            result = pc.if_else(hit, pa.scalar(name, pa.string()), result)
        values: list[FieldValue] = result.to_pylist()
        return values


_Matcher = _VocabularyMatcher | _PatternMatcher | _KeywordClassMatcher

_CONVERTERS: dict[str, tuple[Callable[[str], FieldValue], pa.DataType]] = {
    "int": (lambda s: int(s.strip()), pa.int64()),
    "float": (lambda s: float(s.strip()), pa.float64()),
    "str": (lambda s: s.strip(), pa.string()),
}


def _compile_field(field: VocabularyField | PatternField | KeywordClassField) -> tuple[_Matcher, pa.DataType]:
    if isinstance(field, VocabularyField):
        canonical = {_key(p): value for value, phrases in field.vocabulary.items() for p in phrases}
        matcher = _VocabularyMatcher(_phrase_pattern(canonical), _python_phrase_regex(canonical), canonical)
        return matcher, pa.string()
    if isinstance(field, PatternField):
        convert, arrow_type = _CONVERTERS[field.value_type]
        regexes = tuple((re.compile(p, re.IGNORECASE), _required_literal(p)) for p in field.patterns)
        return _PatternMatcher(regexes, convert, field.min, field.max), arrow_type
    order = list(field.priority) + [c for c in field.classes if c not in field.priority]
    classes = tuple(
        (c, _phrase_pattern(field.classes[c]), _python_phrase_regex(field.classes[c])) for c in order
    )
    return _KeywordClassMatcher(classes), pa.string()


def _texts_array(texts: Sequence[str | None] | pa.Array | pa.ChunkedArray) -> pa.Array:
    """Texts as one Arrow large_string array, blank texts as null."""
    if isinstance(texts, pa.ChunkedArray):
        array = texts.combine_chunks() if texts.num_chunks else pa.array([], pa.large_string())
    elif isinstance(texts, pa.Array):
        array = texts
    else:
        array = pa.array(texts, type=pa.large_string())
    array = array.cast(pa.large_string())
    blank = pc.fill_null(pc.match_substring_regex(array, r"^\s*$"), True)
    return pc.if_else(blank, pa.scalar(None, pa.large_string()), array)


class Extractor:
    """The compiled fields of one extraction config; build it with :func:`compile_extractor`."""

    def __init__(self, config: ExtractionConfig) -> None:
        self.config = config
        compiled = [(f.name, *_compile_field(f)) for f in config.fields]
        self._matchers: tuple[tuple[str, _Matcher], ...] = tuple((name, m) for name, m, _ in compiled)
        self.field_types: dict[str, pa.DataType] = {name: t for name, _, t in compiled}
        """Arrow type of each field's values, in config order."""

    @property
    def field_names(self) -> tuple[str, ...]:
        """The field names, in config order."""
        return tuple(self.field_types)

    def extract(self, text: str | None) -> dict[str, FieldValue]:
        """Extract every field from one text.

        Args:
            text: the free text; None or blank extracts nothing.

        Returns:
            Field name -> value, None where the field was not found.
        """
        if text is None or not text.strip():
            return dict.fromkeys(self.field_types)
        return {name: matcher.one(text) for name, matcher in self._matchers}

    def extract_columns(
        self, texts: Sequence[str | None] | pa.Array | pa.ChunkedArray
    ) -> dict[str, list[FieldValue]]:
        """Extract every field from many texts, column-wise.

        Args:
            texts: the texts (a list or an Arrow string array); None or blank texts extract nothing.

        Returns:
            Field name -> one value per text (None where not found), aligned with ``texts``.
        """
        array = _texts_array(texts)
        return {name: matcher.run(array) for name, matcher in self._matchers}


def compile_extractor(config: ExtractionConfig) -> Extractor:
    """Compile the fields of ``config`` once, for use on many texts.

    Args:
        config: a validated extraction config.

    Returns:
        The extractor.
    """
    return Extractor(config)


def _source_columns(calls: pa.Table, config: ExtractionConfig) -> tuple[str, str, str, str]:
    src = config.source
    wanted = (src.entity_column, src.id_column, src.text_column, src.timestamp_column)
    missing = [c for c in wanted if c not in calls.column_names]
    if missing:
        raise SchemaMismatchError(
            f"extraction {config.name!r} reads {', '.join(repr(c) for c in missing)} from dataset "
            f"{src.dataset!r}, but the table has only {', '.join(calls.column_names)}"
        )
    return wanted


def extract_table(calls: pa.Table, config: ExtractionConfig, extractor: Extractor | None = None) -> pa.Table:
    """Extract the fields of every row of ``calls``.

    Args:
        calls: a table with the source columns of ``config`` (e.g. silver or bronze calls).
        config: the extraction config.
        extractor: a compiled extractor of ``config``, to reuse; compiled here when None.

    Returns:
        One row per input row: the id, entity and timestamp columns (source names and types), then one
        typed column per field.

    Raises:
        SchemaMismatchError: ``calls`` lacks a source column.
    """
    entity, id_col, text_col, ts_col = _source_columns(calls, config)
    extractor = extractor or compile_extractor(config)
    values = extractor.extract_columns(calls.column(text_col))
    arrays = [calls.column(id_col), calls.column(entity), calls.column(ts_col)]
    arrays += [pa.array(values[name], type=t) for name, t in extractor.field_types.items()]
    return pa.table(arrays, names=[id_col, entity, ts_col, *extractor.field_names])


def _output_names(config: ExtractionConfig, field_names: Sequence[str]) -> list[str]:
    src = config.source
    names = [src.entity_column]
    for name in field_names:
        names += [name, f"{name}_{src.id_column}", f"{name}_at"]
    names += [CALLS_ANALYZED, LAST_CALL_AT]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TransformError(
            f"extraction {config.name!r}: output column(s) {', '.join(duplicates)} would appear twice; "
            "rename the clashing field(s)"
        )
    return names


def _renamed(table: pa.Table, names: dict[str, str]) -> pa.Table:
    """Select the columns named as keys of ``names`` and give them the matching values as names."""
    return pa.table([table.column(old) for old in names], names=list(names.values()))


def build_profiles(calls: pa.Table, config: ExtractionConfig, extractor: Extractor | None = None) -> pa.Table:
    """Build one profile row per entity (customer) from the texts of its calls.

    Rows whose entity is null are ignored. For each field ``F`` the profile holds ``F`` (the value),
    ``F_<id column>`` (``F_call_id``: the call it came from) and ``F_at`` (that call's timestamp): the
    **latest** value of the field by timestamp, ties broken by the larger call id, ignoring calls where
    the field was not found (a call with a null timestamp counts as the oldest). ``calls_analyzed`` counts
    the entity's distinct calls with a non-blank text; ``last_call_at`` is the latest timestamp of any
    of its calls. Rows are ordered by entity.

    Args:
        calls: a table with the source columns of ``config``; duplicate rows of a call are harmless.
        config: the extraction config.
        extractor: a compiled extractor of ``config``, to reuse; compiled here when None.

    Returns:
        ``<entity column>``, then ``F, F_call_id, F_at`` per field in config order, then
        ``calls_analyzed`` (int64) and ``last_call_at``. Values are typed per field (string, int64,
        float64); ids and timestamps keep their input types.

    Raises:
        SchemaMismatchError: ``calls`` lacks a source column.
        TransformError: a field name clashes with another output column.
    """
    extractor = extractor or compile_extractor(config)
    entity, id_col, text_col, ts_col = _source_columns(calls, config)
    names = _output_names(config, extractor.field_names)
    calls = calls.filter(pc.is_valid(calls.column(entity)))
    rows = extract_table(calls, config, extractor).rename_columns([_ID, _ENTITY, _TS, *extractor.field_names])
    id_type, entity_type, ts_type = (calls.schema.field(c).type for c in (id_col, entity, ts_col))
    # Ascending (entity, time, id) with null times first: the last row of a group is the latest call.
    rows = rows.sort_by(
        [(_ENTITY, "ascending", "at_start"), (_TS, "ascending", "at_start"), (_ID, "ascending", "at_start")]
    )

    analyzed = (
        pa.table({_ENTITY: calls.column(entity), _ID: calls.column(id_col)})
        .filter(pc.is_valid(_texts_array(calls.column(text_col))))
        .group_by(_ENTITY)
        .aggregate([(_ID, "count_distinct")])
    )
    profile = _renamed(
        rows.group_by(_ENTITY).aggregate([(_TS, "max")]), {_ENTITY: _ENTITY, f"{_TS}_max": LAST_CALL_AT}
    )
    profile = profile.join(analyzed, _ENTITY, join_type="left outer")

    last = pc.ScalarAggregateOptions(skip_nulls=False)
    for name in extractor.field_names:
        found = rows.filter(pc.is_valid(rows.column(name)))
        latest = found.group_by(_ENTITY, use_threads=False).aggregate(
            [(name, "last", last), (_ID, "last", last), (_TS, "last", last)]
        )
        latest = _renamed(
            latest,
            {
                _ENTITY: _ENTITY,
                f"{name}_last": name,
                f"{_ID}_last": f"{name}__id",
                f"{_TS}_last": f"{name}__at",
            },
        )
        profile = profile.join(latest, _ENTITY, join_type="left outer")

    profile = profile.sort_by([(_ENTITY, "ascending")])
    columns = [profile.column(_ENTITY)]
    types: list[pa.DataType] = [entity_type]
    for name in extractor.field_names:
        columns += [profile.column(name), profile.column(f"{name}__id"), profile.column(f"{name}__at")]
        types += [extractor.field_types[name], id_type, ts_type]
    columns += [pc.fill_null(profile.column(f"{_ID}_count_distinct"), 0), profile.column(LAST_CALL_AT)]
    types += [pa.int64(), ts_type]
    schema = pa.schema([pa.field(n, t) for n, t in zip(names, types, strict=True)])
    result = pa.table([c.cast(t) for c, t in zip(columns, types, strict=True)], schema=schema)
    logger.info("built %d %s profiles from %d calls", result.num_rows, config.name, calls.num_rows)
    return result
