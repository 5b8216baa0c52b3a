"""``lakehouse generate``: write realistic daily sample extracts of a field-service company."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from lakehouse.cli.errors import catch_errors
from lakehouse.cli.options import FROM_CONFIG, CompanyOpt, OutputOpt
from lakehouse.cli.output import OutputFormat, console, emit, print_json
from lakehouse.cli.progress import Steps
from lakehouse.errors import DataPlaneError
from lakehouse.sample import DEFAULT_DAYS, DEFAULT_END_DATE, DEFAULT_SCALE, DEFAULT_SEED, generate


@catch_errors
def generate_command(
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write into: one YYYY-MM-DD sub-folder per day.")
    ],
    company: CompanyOpt = FROM_CONFIG,
    days: Annotated[
        int, typer.Option(min=1, help="Number of extract days, ending on --end-date.")
    ] = DEFAULT_DAYS,
    scale: Annotated[
        float,
        typer.Option(help="Volume factor: 1.0 is ~10,000 customers and ~100,000 jobs per 365 days."),
    ] = DEFAULT_SCALE,
    seed: Annotated[int, typer.Option(help="Random seed; same arguments, same bytes.")] = DEFAULT_SEED,
    end_date: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="Last extract day (YYYY-MM-DD).")
    ] = datetime(DEFAULT_END_DATE.year, DEFAULT_END_DATE.month, DEFAULT_END_DATE.day),
    overwrite: Annotated[
        bool,
        typer.Option(help="Write into a folder that already holds files (same-named days are replaced)."),
    ] = False,
    truth_out: Annotated[
        Path | None,
        typer.Option(
            "--truth-out",
            help="Folder for the ground truth of the planted facts (call_facts.jsonl), outside --out "
            "(default: <out>.truth beside it).",
        ),
    ] = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Generate daily extracts (customers, jobs, estimates, invoices CSV; calls JSONL) with planted facts.

    The ground truth of the planted facts is written beside the extracts, never among them, so
    ``lakehouse ingest <out>`` (or ``<out>/*``) reads extract days only.
    """
    if out.exists() and not out.is_dir():
        raise DataPlaneError(f"--out {out} is a file: give a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise DataPlaneError(
            f"--out {out} is not empty: extracts of two runs would mix; choose an empty folder or pass --overwrite"
        )
    with Steps(f"generate {company}", total=days, min_interval=1.0, unit="day(s)") as steps:

        def on_day(done: int, total: int) -> None:
            steps.step("days written", done=done, total=total)

        summary = generate(company, out, days=days, scale=scale, seed=seed, end_date=end_date.date(),
                           on_day_written=on_day, truth_dir=truth_out)  # fmt: skip
    if output == OutputFormat.json:
        print_json({
            "company": summary.company,
            "out_dir": str(summary.out_dir),
            "first_day": summary.days[0],
            "last_day": summary.days[-1],
            "days": len(summary.days),
            "rows": summary.row_counts,
            "truth_path": str(summary.truth_path),
            "truth_rows": summary.truth_rows,
        })  # fmt: skip
        return
    console.print(
        f"generated {len(summary.days)} day(s) {summary.days[0]} .. {summary.days[-1]} for "
        f"{summary.company} in {summary.out_dir}",
        markup=False,
    )
    rows = [{"dataset": name, "rows": count} for name, count in summary.row_counts.items()]
    rows.append({"dataset": "total", "rows": summary.total_rows})
    emit(OutputFormat.text, "rows written", rows)
    console.print(f"planted facts of {summary.truth_rows} call(s) in {summary.truth_path}", markup=False)
