"""Tests of the sample-data generator (lakehouse.sample)."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from lakehouse.dataplane.schemas import RAW_SCHEMAS
from lakehouse.errors import InvalidArgumentError, InvalidNameError
from lakehouse.sample import GenerationSummary, generate

END = date(2026, 9, 30)
TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONEY = re.compile(r"^-?\d+\.\d{2}$")
PHONE_FORMATS = {
    "(512) 555-0143": re.compile(r"^\(\d{3}\) \d{3}-\d{4}$"),
    "512.555.0143": re.compile(r"^\d{3}\.\d{3}\.\d{4}$"),
    "+1 512 555 0143": re.compile(r"^\+1 \d{3} \d{3} \d{4}$"),
    "5125550143": re.compile(r"^\d{10}$"),
}


@dataclass
class Extract:
    """Every file of a generated folder, parsed: rows[dataset] = [(day, line_text, row dict)]."""

    summary: GenerationSummary
    rows: dict[str, list[tuple[date, str, dict[str, object]]]] = field(default_factory=dict)

    def of(self, dataset: str) -> list[dict[str, object]]:
        return [r for _, _, r in self.rows[dataset]]


def _read(out: Path, summary: GenerationSummary) -> Extract:
    extract = Extract(summary, {name: [] for name in RAW_SCHEMAS})
    for day_dir in sorted(p for p in out.iterdir() if p.is_dir()):
        day = date.fromisoformat(day_dir.name)
        for dataset, schema in RAW_SCHEMAS.items():
            if dataset == "calls":
                for line in (day_dir / "calls.jsonl").read_text(encoding="utf-8").splitlines():
                    row = json.loads(line)
                    assert tuple(row) == schema.column_names
                    extract.rows[dataset].append((day, line, row))
            else:
                lines = (day_dir / f"{dataset}.csv").read_text(encoding="utf-8").splitlines()
                reader = csv.reader(lines)
                assert tuple(next(reader)) == schema.column_names
                for line, values in zip(lines[1:], reader, strict=True):
                    row = dict(zip(schema.column_names, values, strict=True))
                    extract.rows[dataset].append((day, line, row))
    return extract


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory) -> Extract:
    out = tmp_path_factory.mktemp("extract") / "acme"
    summary = generate("acme", out, days=120, scale=0.1, seed=7, end_date=END)
    return _read(out, summary)


def _digits(phone: object) -> str:
    digits = re.sub(r"\D", "", str(phone))
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def _ts(value: object) -> datetime:
    return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S")


def test_summary_describes_the_files(extract: Extract) -> None:
    s = extract.summary
    assert s.days == tuple(END - timedelta(days=n) for n in range(119, -1, -1))
    # Only extract days in the extracts folder; the ground truth lives beside it.
    assert sorted(p.name for p in s.out_dir.iterdir()) == [d.isoformat() for d in s.days]
    assert s.row_counts == {name: len(rows) for name, rows in extract.rows.items()}
    assert s.truth_path == s.out_dir.with_name(s.out_dir.name + ".truth") / "call_facts.jsonl"
    assert s.truth_rows == len(s.truth_path.read_text().splitlines()) > 100
    assert all(count > 0 for count in s.row_counts.values())


def test_values_follow_the_declared_schemas(extract: Extract) -> None:
    for dataset, schema in RAW_SCHEMAS.items():
        for day, _, row in extract.rows[dataset]:
            for col in schema.columns:
                value = row[col.name]
                if value in ("", None):
                    assert col.nullable, f"{dataset}.{col.name} empty on {day}"
                    continue
                if col.enum is not None:
                    assert value in col.enum, f"{dataset}.{col.name}={value!r}"
                if col.type == "TIMESTAMP":
                    assert TS.match(str(value)), f"{dataset}.{col.name}={value!r}"
                elif col.type == "DATE":
                    assert DATE.match(str(value))
                elif col.type.startswith("DECIMAL"):
                    assert MONEY.match(str(value)), f"{dataset}.{col.name}={value!r}"
                elif col.type == "BOOLEAN":
                    assert value in ("true", "false")
                elif col.type == "INTEGER":
                    assert isinstance(value, int) and value >= 0
            if "updated_at" in row and day > extract.summary.days[0]:
                assert str(row["updated_at"]).startswith(day.isoformat()), "a row lands on its update day"


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    def files(out: Path) -> dict[str, bytes]:
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    generate("acme", tmp_path / "a", days=15, scale=0.05, seed=11)
    generate("acme", tmp_path / "b", days=15, scale=0.05, seed=11)
    generate("acme", tmp_path / "c", days=15, scale=0.05, seed=12)
    a, b, c = files(tmp_path / "a"), files(tmp_path / "b"), files(tmp_path / "c")
    assert a == b
    assert files(tmp_path / "a.truth") == files(tmp_path / "b.truth")
    assert a.keys() == c.keys()
    assert a != c


def test_references_point_at_rows_seen_the_same_day_or_earlier(extract: Extract) -> None:
    first_seen: dict[str, dict[str, date]] = {"customers": {}, "jobs": {}}
    for dataset, key in (("customers", "customer_id"), ("jobs", "job_id")):
        for day, _, row in extract.rows[dataset]:
            first_seen[dataset].setdefault(str(row[key]), day)
    job_customer = {str(r["job_id"]): str(r["customer_id"]) for r in extract.of("jobs")}

    def check(dataset: str, column: str, target: str) -> int:
        checked = 0
        for day, _, row in extract.rows[dataset]:
            ref = row[column]
            if ref in ("", None):
                continue
            assert str(ref) in first_seen[target], f"{dataset}.{column}={ref} unknown"
            assert first_seen[target][str(ref)] <= day, f"{dataset}.{column}={ref} seen after {day}"
            checked += 1
        return checked

    assert check("jobs", "customer_id", "customers") > 0
    for dataset in ("estimates", "invoices", "calls"):
        assert check(dataset, "job_id", "jobs") > 0
        assert check(dataset, "customer_id", "customers") > 0
    for dataset in ("estimates", "invoices"):
        for row in extract.of(dataset):
            assert job_customer[str(row["job_id"])] == row["customer_id"]
    for row in extract.of("calls"):
        if row["job_id"] is not None:
            assert job_customer[str(row["job_id"])] == row["customer_id"]


def _histories(extract: Extract, dataset: str, key: str) -> dict[str, list[dict[str, object]]]:
    histories: dict[str, list[dict[str, object]]] = {}
    for _, _, row in extract.rows[dataset]:
        histories.setdefault(str(row[key]), []).append(row)
    return histories


def test_entities_are_updated_on_later_days(extract: Extract) -> None:
    def transitions(dataset: str, key: str) -> Counter[tuple[object, object]]:
        seen: Counter[tuple[object, object]] = Counter()
        for versions in _histories(extract, dataset, key).values():
            for old, new in zip(versions, versions[1:], strict=False):
                if old == new:
                    continue  # an exact duplicate line
                assert _ts(new["updated_at"]) > _ts(old["updated_at"])
                seen[(old["status"], new["status"])] += 1
        return seen

    estimates = transitions("estimates", "estimate_id")
    assert estimates[("open", "sold")] > 0 and estimates[("open", "dismissed")] > 0
    invoices = transitions("invoices", "invoice_id")
    assert invoices[("open", "paid")] > 0 and invoices[("open", "void")] > 0
    jobs = transitions("jobs", "job_id")
    assert jobs[("scheduled", "completed")] > 0 and jobs[("scheduled", "canceled")] > 0
    assert jobs[("scheduled", "in_progress")] > 0 and jobs[("in_progress", "completed")] > 0
    sold = [
        v[-1] for v in _histories(extract, "estimates", "estimate_id").values() if v[-1]["status"] == "sold"
    ]
    assert all(r["sold_at"] == r["updated_at"] for r in sold)


def test_open_items_and_quiet_customers_exist_at_the_end(extract: Extract) -> None:
    end = datetime(END.year, END.month, END.day)
    estimates = [v[-1] for v in _histories(extract, "estimates", "estimate_id").values()]
    assert any(r["status"] == "open" and end - _ts(r["created_at"]) > timedelta(days=21) for r in estimates)
    invoices = [v[-1] for v in _histories(extract, "invoices", "invoice_id").values()]
    overdue = [r for r in invoices if r["status"] == "open" and date.fromisoformat(str(r["due_date"])) < END]
    assert overdue and all(float(str(r["balance"])) > 0 for r in overdue)
    last_job: dict[str, datetime] = {}
    for row in extract.of("jobs"):
        at = _ts(row["created_at"])
        last_job[str(row["customer_id"])] = max(at, last_job.get(str(row["customer_id"]), at))
    assert sum(1 for at in last_job.values() if end - at > timedelta(days=180)) >= 5
    assert {str(r["business_unit"]) for r in extract.of("jobs")} == {"HVAC", "Plumbing", "Electrical"}


def test_real_world_dirt(extract: Extract) -> None:
    phones = [str(r["phone"]) for r in extract.of("customers") if r["phone"]]
    phones += [str(r["from_number"]) for r in extract.of("calls")]
    for example, pattern in PHONE_FORMATS.items():
        assert any(pattern.match(p) for p in phones), f"no phone written like {example}"
    emails = [str(r["email"]) for r in extract.of("customers") if r["email"]]
    assert any(e != e.strip() for e in emails), "no email with stray whitespace"
    assert any(e != e.lower() for e in emails), "no email with capitals"
    states = {str(r["state"]) for r in extract.of("customers") if r["state"]}
    assert {"TX", "tx"} <= states
    duplicated = 0
    for rows in extract.rows.values():
        per_day = Counter((day, line) for day, line, _ in rows)
        duplicated += sum(1 for n in per_day.values() if n > 1)
    assert duplicated > 0, "no exact duplicate line"


def test_calls_come_from_the_customer_and_missed_calls_are_sometimes_returned(extract: Extract) -> None:
    customer_phones: dict[str, set[str]] = {}
    for row in extract.of("customers"):
        if row["phone"]:
            customer_phones.setdefault(str(row["customer_id"]), set()).add(_digits(row["phone"]))
    calls = sorted(
        {str(r["call_id"]): r for r in extract.of("calls")}.values(), key=lambda r: str(r["started_at"])
    )
    for row in calls:
        assert len(_digits(row["from_number"])) == 10
        if row["customer_id"] is not None:
            assert _digits(row["from_number"]) in customer_phones[str(row["customer_id"])]
    assert any(r["customer_id"] is None for r in calls), "no call from an unknown number"
    outbound: dict[str, list[datetime]] = {}
    for row in calls:
        if row["direction"] == "outbound":
            outbound.setdefault(_digits(row["from_number"]), []).append(_ts(row["started_at"]))
    returned = unreturned = 0
    last_day = datetime(END.year, END.month, END.day) - timedelta(days=2)
    for row in calls:
        if row["direction"] != "inbound" or row["outcome"] == "booked" or _ts(row["started_at"]) > last_day:
            continue
        start = _ts(row["started_at"])
        later = [t for t in outbound.get(_digits(row["from_number"]), []) if t > start]
        if any(t - start <= timedelta(hours=3) for t in later):
            returned += 1
        elif not any(t - start <= timedelta(hours=48) for t in later):
            unreturned += 1
    assert returned > 20 and unreturned > 20
    outcomes = Counter((r["direction"], r["outcome"]) for r in calls)
    for key in (("inbound", "booked"), ("inbound", "abandoned"), ("inbound", "not_booked"), ("inbound", "voicemail"),
                ("outbound", "booked"), ("outbound", "voicemail")):  # fmt: skip
        assert outcomes[key] > 0, key


def test_truth_lists_planted_facts_of_calls_with_transcripts(extract: Extract) -> None:
    calls = {str(r["call_id"]): r for r in extract.of("calls")}
    truth = [json.loads(line) for line in extract.summary.truth_path.read_text().splitlines()]
    assert [t["call_id"] for t in truth] == sorted(t["call_id"] for t in truth)
    for fact in truth:
        assert set(fact) == {"call_id", "customer_id", "equipment_brand", "system_age_years", "intent"}
        call = calls[fact["call_id"]]
        assert call["transcript"] and fact["customer_id"] == call["customer_id"]
        assert any(fact[k] is not None for k in ("equipment_brand", "system_age_years", "intent"))
        assert fact["intent"] in (None, "replacement", "repair", "quote", "maintenance")
        assert fact["system_age_years"] is None or 0 <= fact["system_age_years"] <= 60
    planted = {t["call_id"] for t in truth}
    silent = [c for cid, c in calls.items() if c["transcript"] and cid not in planted]
    assert silent, "some transcripts mention nothing"
    assert any(c["transcript"] is None for c in calls.values())


@pytest.mark.parametrize("name", ["", "Acme", "-acme", "acme corp", "a" * 64, "acme/../x"])
def test_company_must_be_a_slug(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        generate(name, tmp_path)
    assert info.value.kind == "company"
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("days", "scale"), [(0, 0.05), (-3, 0.05), (10, 0.0), (10, -1.0), (10, float("nan")),
                                             (3660, 50.0)])  # fmt: skip
def test_days_and_scale_must_be_in_range(tmp_path: Path, days: int, scale: float) -> None:
    with pytest.raises(InvalidArgumentError):
        generate("acme", tmp_path, days=days, scale=scale)


def test_volume_grows_linearly_with_scale_and_days(tmp_path: Path) -> None:
    def jobs(days: int, scale: float) -> int:
        summary = generate("acme", tmp_path / f"{days}-{scale}", days=days, scale=scale, seed=3)
        job_ids = {line.split(",", 1)[0] for p in summary.out_dir.glob("*/jobs.csv") for line in _lines(p)}
        return len(job_ids)

    base = jobs(30, 0.1)
    assert 0.8 * 2 <= jobs(30, 0.2) / base <= 1.2 * 2
    assert 0.8 * 2 <= jobs(60, 0.1) / base <= 1.2 * 2
    assert 0.9 * 822 <= base <= 1.1 * 822 + 80  # 100,000 * 0.1 * 30 / 365, plus the historical backfill


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        next(handle)
        yield from handle


def test_progress_callback_counts_days(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    generate(
        "acme",
        tmp_path / "extracts",
        days=5,
        scale=0.05,
        on_day_written=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


def test_generate_cli_writes_a_summary_and_refuses_to_mix_extracts(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lakehouse.cli.main import app

    runner = CliRunner()
    out = tmp_path / "extracts"
    args = [
        "generate",
        "--company",
        "acme",
        "--out",
        str(out),
        "--days",
        "3",
        "--scale",
        "0.02",
        "-o",
        "json",
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["days"] == 3 and summary["last_day"] == "2026-09-30"
    assert sorted(p.name for p in out.iterdir() if p.name[0].isdigit()) == [
        "2026-09-28",
        "2026-09-29",
        "2026-09-30",
    ]

    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert again.stderr.strip() == (
        f"error: --out {out} is not empty: extracts of two runs would mix; choose an empty folder or pass --overwrite"
    )
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    assert summary["truth_path"] == str(tmp_path / "extracts.truth" / "call_facts.jsonl")
    assert Path(summary["truth_path"]).is_file()


def test_the_ground_truth_stays_out_of_the_extracts_folder(tmp_path: Path) -> None:
    out = tmp_path / "extracts"
    elsewhere = tmp_path / "answers"
    summary = generate("acme", out, days=2, scale=0.02, truth_dir=elsewhere)
    assert summary.truth_path == elsewhere / "call_facts.jsonl" and summary.truth_path.is_file()
    assert all(p.name[0].isdigit() for p in out.iterdir())
    with pytest.raises(InvalidArgumentError, match="outside the extracts folder"):
        generate("acme", out, days=2, scale=0.02, truth_dir=out / "_truth")
