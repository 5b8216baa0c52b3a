"""``lakehouse ingest``: source extracts into bronze."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from lakehouse.cli.errors import catch_errors
from lakehouse.cli.options import CompanyOpt, OutputOpt, parse_dt
from lakehouse.cli.output import OutputFormat, console, emit, print_json
from lakehouse.cli.progress import IngestReporter, Steps
from lakehouse.dataplane.csv_io import DEFAULT_DELIMITER, DEFAULT_ENCODING, parse_delimiter, parse_encoding
from lakehouse.dataplane.ingest import BronzeIngest, IngestResult, OnError
from lakehouse.dataplane.validate import parse_header_case
from lakehouse.errors import InvalidArgumentError, UsageError
from lakehouse.runtime import open_store

#: Skipped files listed one per line in text output; the rest are counted.
SKIPPED_SHOWN = 10


def _usage_checked(parse: Callable[[str], str]) -> Callable[[str], str]:
    """An option callback: the value ``parse`` makes of the option's text, or a usage error (exit 2)."""

    def callback(value: str) -> str:
        try:
            return parse(value)
        except InvalidArgumentError as exc:
            raise typer.BadParameter(
                f"{exc.value!r} is not a valid {exc.name}: expected {exc.expected}"
            ) from None

    return callback


@catch_errors
def ingest_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="CSV/JSONL/Parquet files (.csv.gz/.jsonl.gz too), a YYYY-MM-DD folder, or an extract root."
        ),
    ],
    company: CompanyOpt = "",  # "": the default_company of config/global.json
    dataset: Annotated[str | None, typer.Option(help="Dataset name (default: each file's name).")] = None,
    dt: Annotated[
        str | None, typer.Option(help="Partition date YYYY-MM-DD (default: the file's folder name).")
    ] = None,
    on_error: Annotated[
        str,
        typer.Option(help="abort: a bad row stops the ingest; quarantine: bad rows go to bronze/_rejects/."),
    ] = "abort",
    allow_schema_evolution: Annotated[
        bool,
        typer.Option(
            help="Accept added nullable columns in an undeclared dataset (bumps its schema version)."
        ),
    ] = False,
    follow_symlinks: Annotated[
        bool,
        typer.Option(
            help="Ingest files reached through symbolic links that lead out of the extract folder "
            "(refused by default); the resolved path is recorded."
        ),
    ] = False,
    delimiter: Annotated[
        str,
        typer.Option(
            help="Field separator of the CSV files: one character such as ';' or '|', or tab ('tab' or '\\t').",
            callback=_usage_checked(parse_delimiter),
        ),
    ] = DEFAULT_DELIMITER,
    encoding: Annotated[
        str,
        typer.Option(
            help="Character set of the CSV and JSONL files: utf-8, utf-16, latin-1, cp1252, iso-8859-15, ... "
            "(stored in bronze as unicode).",
            callback=_usage_checked(parse_encoding),
        ),
    ] = DEFAULT_ENCODING,
    header_case: Annotated[
        str,
        typer.Option(
            help="exact: a file's column names must be the schema's; insensitive: they match in any case "
            "(Customer_ID is customer_id; two that match one column are an error).",
            callback=_usage_checked(parse_header_case),
        ),
    ] = "exact",
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Ingest extract files into the bronze zone as one pipeline run (append-only, idempotent per file).

    .csv.gz, .jsonl.gz and .ndjson.gz files are decompressed (a truncated or damaged one is refused).
    """
    if on_error not in ("abort", "quarantine"):
        raise UsageError(f"--on-error must be abort or quarantine, not {on_error!r}")
    mode: OnError = "quarantine" if on_error == "quarantine" else "abort"
    with (
        open_store() as store,
        Steps(f"ingest {company}", min_interval=1.0, unit="file(s)", quiet_seconds=2.0) as steps,
    ):
        result = BronzeIngest(store).run(
            company,
            paths,
            dataset,
            parse_dt(dt),
            mode,
            allow_schema_evolution,
            IngestReporter(steps),
            follow_symlinks,
            delimiter=delimiter,
            encoding=encoding,
            header_case=parse_header_case(header_case),
        )
        rejects_paths = [store.root.url(rel) for rel in result.rejects_files]
        stale = store.stale_catalog(company)
    _print_ingest(result, rejects_paths, output)
    if stale is not None:
        raise stale


def _print_ingest(result: IngestResult, rejects_paths: list[str], output: OutputFormat) -> None:
    summary: dict[str, Any] = {
        "run_id": result.run_id,
        "files_ingested": len(result.ingested),
        "files_skipped": len(result.skipped),
        "rows": result.rows,
        "rejected_rows": result.rejected_rows,
        "rejects_files": result.rejects_files,
        "rejects_paths": rejects_paths,
        "versions": result.versions,
        "skipped": result.skipped,
    }
    if output == OutputFormat.json:
        print_json(summary)
        return
    shown = result.skipped if len(result.skipped) <= SKIPPED_SHOWN else result.skipped[: SKIPPED_SHOWN - 1]
    for s in shown:
        console.print(f"skipped {s['path']}: {s['reason']}", markup=False)
    if len(shown) < len(result.skipped):
        console.print(
            f"... and {len(result.skipped) - len(shown)} more file(s) skipped (--output json lists them all)",
            markup=False,
        )
    if result.run_id is None:
        console.print("nothing to ingest: every file was ingested before (no-op)", markup=False)
        return
    if not result.versions:
        console.print(
            f"run {result.run_id}: nothing new, every file was ingested by a concurrent run", markup=False
        )
        return
    console.print(
        f"run {result.run_id}: {len(result.ingested)} file(s), {result.rows} row(s) ingested"
        + (
            f", {result.rejected_rows} row(s) quarantined in {', '.join(rejects_paths)}"
            if result.rejected_rows
            else ""
        ),
        markup=False,
    )
    emit(OutputFormat.text, "published bronze versions", result.versions)
