"""Tests of transcript field extraction (lakehouse.transform.extraction)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lakehouse.config.models import ExtractionConfig
from lakehouse.errors import SchemaMismatchError, TransformError
from lakehouse.sample import generate
from lakehouse.transform.extraction import (
    _required_literal,
    build_profiles,
    compile_extractor,
    extract_table,
)

SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "config" / "extraction" / "call_transcripts.json"


def _config(*fields: dict[str, Any]) -> ExtractionConfig:
    return ExtractionConfig.model_validate(
        {"schema_version": "1", "name": "test", "description": "test config", "fields": list(fields)}
    )


BRAND = {
    "name": "equipment_brand",
    "kind": "vocabulary",
    "vocabulary": {
        "Carrier": ["Carrier"],
        "Carrier Infinity": ["Carrier Infinity"],
        "AO Smith": ["AO Smith", "A.O. Smith"],
        "Trane": ["Trane"],
    },
}
AGE = {
    "name": "system_age_years",
    "kind": "pattern",
    "patterns": [r"(?P<value>\d{1,3})[- ]years?[- ]old", r"installed (?P<value>\d{1,2}) years ago"],
    "value_type": "int",
    "min": 0.0,
    "max": 60.0,
}
INTENT = {
    "name": "intent",
    "kind": "keyword_classes",
    "classes": {
        "maintenance": ["tune-up", "maintenance"],
        "quote": ["quote", "how much"],
        "repair": ["repair", "not working"],
        "replacement": ["replace", "new system"],
    },
    "priority": ["replacement", "repair", "quote", "maintenance"],
}


@pytest.fixture(scope="module")
def extractor_all() -> Any:
    return compile_extractor(_config(BRAND, AGE, INTENT))


# --- single fields --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My CARRIER unit died", "Carrier"),
        ("we have a carrier", "Carrier"),
        ("It's a Carrier Infinity system", "Carrier Infinity"),  # longest phrase at the same position
        ("Carrier\n  infinity", "Carrier Infinity"),  # any whitespace inside a phrase
        ("a Trane upstairs and a Carrier downstairs", "Trane"),  # first position wins
        ("the a.o. smith heater", "AO Smith"),  # synonym with punctuation -> canonical
        ("the AO   Smith heater", "AO Smith"),
        ("Carrier's warranty", "Carrier"),
        ("Traner or xCarrier or carriers", None),  # whole words only
        ("nothing here", None),
    ],
)
def test_vocabulary(extractor_all: Any, text: str, expected: str | None) -> None:
    assert extractor_all.extract(text)["equipment_brand"] == expected
    assert extractor_all.extract_columns([text])["equipment_brand"] == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("it is 12 years old", 12),
        ("It's 1 YEAR OLD", 1),
        ("a 15-year-old furnace", 15),
        ("installed 7 years ago, now 9 years old", 9),  # pattern order beats text position
        ("installed 7 years ago", 7),
        ("the 99 years old house, the unit is 20 years old", 20),  # out of range: next match
        ("it was installed 99 years ago", None),
        ("twelve years old", None),
        ("", None),
    ],
)
def test_pattern(extractor_all: Any, text: str, expected: int | None) -> None:
    assert extractor_all.extract(text)["system_age_years"] == expected
    assert extractor_all.extract_columns([text])["system_age_years"] == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("how much for a tune-up? also it's not working", "repair"),  # priority, not position
        ("Time to REPLACE it; how much would a new system be", "replacement"),
        ("need a quote for maintenance", "quote"),
        ("annual maintenance please", "maintenance"),
        ("we are replacing nothing, networking", None),  # whole words: "replacing" is not "replace"
        ("hello", None),
    ],
)
def test_keyword_classes(extractor_all: Any, text: str, expected: str | None) -> None:
    assert extractor_all.extract(text)["intent"] == expected
    assert extractor_all.extract_columns([text])["intent"] == [expected]


def test_float_and_str_patterns_and_no_literal_prefilter() -> None:
    extractor = compile_extractor(
        _config(
            {
                "name": "tons",
                "kind": "pattern",
                "patterns": [r"(?P<value>\d+(?:\.\d+)?)\s*tons?"],
                "value_type": "float",
                "min": 0.5,
                "max": 10.0,
            },
            {
                "name": "model",
                "kind": "pattern",
                "patterns": [r"model (?P<value>[A-Z]{2}\d+)"],
                "value_type": "str",
            },
            {
                "name": "nan",
                "kind": "pattern",
                "patterns": [r"(?P<value>\w+) degrees"],
                "value_type": "float",
            },
        )  # fmt: skip
    )
    texts = [
        "a 3.5 ton unit, model xr15",
        "a 40 ton chiller",
        "nan degrees, inf degrees, 7 degrees",
        None,
        "  ",
    ]
    expected: dict[str, list[object]] = {
        "tons": [3.5, None, None, None, None],
        "model": ["xr15", None, None, None, None],
        "nan": [None, None, 7.0, None, None],  # NaN and infinity are not values
    }
    assert extractor.extract_columns(texts) == expected
    assert [extractor.extract(t) for t in texts] == [{k: v[i] for k, v in expected.items()} for i in range(5)]
    assert extractor.field_types == {"tons": pa.float64(), "model": pa.string(), "nan": pa.float64()}


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (r"\b(?P<value>\d{1,2})[- ]years?[- ]old\b", "year"),
        (r"\binstalled (?P<value>\d{1,2}) years ago\b", "installed "),  # first of the longest
        (r"(?:about|around) (?P<value>\d+) years", " years"),
        (r"(?P<value>\d+)\s*yrs", "yrs"),
        (r"(?P<value>\d+)(?:y|yr)", None),
        (r"(?i:OLD) (?P<value>\d+)", "old "),
    ],
)
def test_required_literal(pattern: str, literal: str | None) -> None:
    assert _required_literal(pattern) == literal


def test_none_and_blank_texts_extract_nothing(extractor_all: Any) -> None:
    nothing = {"equipment_brand": None, "system_age_years": None, "intent": None}
    assert extractor_all.extract(None) == nothing
    assert extractor_all.extract(" \n\t") == nothing
    assert extractor_all.extract_columns(pa.chunked_array([["", None]], pa.string())) == {
        k: [None, None] for k in nothing
    }


# --- tables and profiles --------------------------------------------------------------------------


def _calls(rows: list[tuple[str, str | None, str | None, str | None]]) -> pa.Table:
    return pa.table(
        {
            "call_id": pa.array([r[0] for r in rows], pa.string()),
            "customer_id": pa.array([r[1] for r in rows], pa.string()),
            "transcript": pa.array([r[2] for r in rows], pa.string()),
            "started_at": pa.array(
                [None if r[3] is None else datetime.fromisoformat(r[3]) for r in rows], pa.timestamp("us")
            ),  # fmt: skip
            "outcome": pa.array(["booked"] * len(rows), pa.string()),
        }
    )


def test_build_profiles_keeps_each_fields_latest_value() -> None:
    config = _config(BRAND, AGE, INTENT)
    calls = _calls([
        ("C1", "A", "Carrier, 10 years old, not working", "2026-01-01 09:00:00"),
        ("C2", "A", "a Trane", "2026-01-05 09:00:00"),
        ("C3", "A", "a quote please", "2026-01-03 09:00:00"),  # older than C2 but newer than C1
        ("C4", "A", None, "2026-02-01 09:00:00"),  # no text: counts for last_call_at only
        ("C5", "B", "my Carrier", "2026-01-02 10:00:00"),
        ("C7", "B", "my Trane", "2026-01-02 10:00:00"),  # same time as C5 and C6: larger call id wins
        ("C6", "B", "my AO Smith", "2026-01-02 10:00:00"),
        ("C8", None, "a Trane, 3 years old", "2026-03-01 09:00:00"),  # no customer: ignored
        ("C9", "C", "hello", None),
        ("C9", "C", "hello", None),  # a duplicate line
        ("C10", "C", "replace the Carrier", None),
        ("C11", "C", "repair the Trane", "2025-12-01 08:00:00"),  # any timestamp is newer than none
    ])  # fmt: skip
    profiles = build_profiles(calls, config)
    assert profiles.column_names == [
        "customer_id",
        "equipment_brand", "equipment_brand_call_id", "equipment_brand_at",
        "system_age_years", "system_age_years_call_id", "system_age_years_at",
        "intent", "intent_call_id", "intent_at",
        "calls_analyzed", "last_call_at",
    ]  # fmt: skip
    assert profiles.schema.field("system_age_years").type == pa.int64()
    assert profiles.schema.field("calls_analyzed").type == pa.int64()
    assert profiles.schema.field("intent_at").type == pa.timestamp("us")
    rows = {r["customer_id"]: r for r in profiles.to_pylist()}
    assert list(rows) == ["A", "B", "C"]
    a = rows["A"]
    assert (a["equipment_brand"], a["equipment_brand_call_id"]) == ("Trane", "C2")
    assert a["equipment_brand_at"] == datetime(2026, 1, 5, 9)
    assert (a["system_age_years"], a["system_age_years_call_id"]) == (10, "C1")
    assert (a["intent"], a["intent_call_id"]) == ("quote", "C3")
    assert (a["calls_analyzed"], a["last_call_at"]) == (3, datetime(2026, 2, 1, 9))
    b = rows["B"]
    assert (b["equipment_brand"], b["equipment_brand_call_id"]) == ("Trane", "C7")
    assert b["system_age_years"] is None and b["system_age_years_call_id"] is None and b["intent_at"] is None
    assert b["calls_analyzed"] == 3
    c = rows["C"]
    assert (c["equipment_brand"], c["equipment_brand_call_id"]) == ("Trane", "C11")
    assert (c["intent"], c["intent_call_id"]) == ("repair", "C11")
    assert (c["calls_analyzed"], c["last_call_at"]) == (3, datetime(2025, 12, 1, 8))


def test_build_profiles_of_no_calls_and_bad_input() -> None:
    config = _config(BRAND, AGE)
    empty = build_profiles(_calls([]), config)
    assert empty.num_rows == 0
    assert empty.schema.field("system_age_years").type == pa.int64()
    with pytest.raises(SchemaMismatchError, match="transcript"):
        build_profiles(_calls([]).drop_columns(["transcript"]), config)
    clash = _config({**BRAND, "name": "calls_analyzed"})
    with pytest.raises(TransformError, match="calls_analyzed"):
        build_profiles(_calls([]), clash)


def test_extract_table_keeps_ids_and_types() -> None:
    calls = _calls([("C1", "A", "Trane 5 years old", "2026-01-01 09:00:00"), ("C2", None, None, None)])
    table = extract_table(calls, _config(BRAND, AGE, INTENT))
    assert table.column_names == ["call_id", "customer_id", "started_at", "equipment_brand", "system_age_years",
                                  "intent"]  # fmt: skip
    assert table.to_pylist()[0]["system_age_years"] == 5
    assert table.to_pylist()[1]["equipment_brand"] is None


# --- against the generator's planted ground truth -------------------------------------------------


def _metrics(predicted: list[Any], truth: list[Any]) -> tuple[float, float]:
    hits = sum(1 for p, t in zip(predicted, truth, strict=True) if p is not None and p == t)
    said = sum(1 for p in predicted if p is not None)
    real = sum(1 for t in truth if t is not None)
    return hits / said, hits / real


def test_extraction_finds_the_planted_facts(tmp_path: Path) -> None:
    config = ExtractionConfig.model_validate_json(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    summary = generate("acme", tmp_path / "extract", days=30, scale=0.2, seed=5)
    calls: dict[str, dict[str, Any]] = {}
    for path in sorted(summary.out_dir.glob("2*/calls.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            calls[row["call_id"]] = row  # exact duplicate lines collapse
    truth = {t["call_id"]: t for t in map(json.loads, summary.truth_path.read_text().splitlines())}
    with_text = [c for c in calls.values() if c["transcript"] is not None]
    assert len(with_text) > 1000 and len(truth) > 800

    extractor = compile_extractor(config)
    columns = extractor.extract_columns([c["transcript"] for c in with_text])
    print()
    for name in extractor.field_names:
        expected = [truth.get(c["call_id"], {}).get(name) for c in with_text]
        precision, recall = _metrics(columns[name], expected)
        print(
            f"{name:18s} precision {precision:.3f}  recall {recall:.3f}  ({sum(e is not None for e in expected)})"
        )
        assert precision >= 0.95, name
        assert recall >= 0.95, name
    # the one-text path agrees with the column path
    sample = with_text[:300]
    for i, call in enumerate(sample):
        assert extractor.extract(call["transcript"]) == {n: columns[n][i] for n in extractor.field_names}


def test_profiles_of_generated_calls(tmp_path: Path) -> None:
    config = ExtractionConfig.model_validate_json(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    summary = generate("acme", tmp_path / "extract", days=20, scale=0.1, seed=8)
    rows = [
        json.loads(line)
        for p in sorted(summary.out_dir.glob("2*/calls.jsonl"))
        for line in p.read_text().splitlines()
    ]
    table = pa.Table.from_pylist(rows)
    table = table.set_column(
        table.column_names.index("started_at"),
        "started_at",
        table.column("started_at").cast(pa.timestamp("s")),
    )
    profiles = build_profiles(table, config)
    customers = {r["customer_id"] for r in rows if r["customer_id"] is not None}
    assert set(profiles.column("customer_id").to_pylist()) == customers
    assert profiles.column("equipment_brand").null_count < profiles.num_rows
    for profile in profiles.to_pylist():
        if profile["intent"] is not None:
            source = next(r for r in rows if r["call_id"] == profile["intent_call_id"])
            assert source["customer_id"] == profile["customer_id"]
            assert profile["intent_at"] == datetime.fromisoformat(source["started_at"])
