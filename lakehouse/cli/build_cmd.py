"""``lakehouse build`` and ``lakehouse events``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from lakehouse.cli.errors import catch_errors, err_console
from lakehouse.cli.options import CompanyOpt, OutputOpt, parse_dt
from lakehouse.cli.output import OutputFormat, console, emit, print_json
from lakehouse.cli.progress import DbtNodeReporter, progress_bar
from lakehouse.config import load_config
from lakehouse.io.zones import validate_slug
from lakehouse.runtime import open_store
from lakehouse.settings import get_settings
from lakehouse.transform.build import BuildResult, DbtBuild
from lakehouse.transform.profiles import run_extraction


@catch_errors
def build_command(
    company: CompanyOpt,
    select: Annotated[
        list[str] | None, typer.Option("--select", "-s", help="dbt node selection (default: all).")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="As-of date YYYY-MM-DD (default: the newest day every dbt source has reached). "
            "An earlier date than the published one is a backfill: published, readable, never current."
        ),
    ] = None,
    allow_partial: Annotated[
        bool,
        typer.Option(
            "--allow-partial", help="Build an --as-of past the newest day of some source (they are named)."
        ),
    ] = False,
    allow_empty: Annotated[
        bool,
        typer.Option(
            "--allow-empty",
            help="Publish a dataset that is empty at this as-of although its current one is not.",
        ),
    ] = False,
    wait: Annotated[
        int, typer.Option(help="Seconds to wait for another build of the company to finish.")
    ] = 0,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Build silver and gold with dbt, test them, and publish them only if every test passes."""
    settings = get_settings()
    config = load_config(settings.config_dir)
    with open_store(settings) as store, progress_bar() as bar:
        on_node = DbtNodeReporter(bar, bar.add_task("dbt build", total=None))

        result = DbtBuild(store, config, settings.dbt_project_dir).run(
            company,
            select=select,
            as_of=parse_dt(as_of, "--as-of"),
            wait_seconds=wait,
            progress=on_node,
            on_wait=lambda msg: err_console.print(msg, markup=False),
            allow_partial=allow_partial,
            allow_empty=allow_empty,
        )
        stale = store.stale_catalog(company)
    _print_build(result, output)
    if stale is not None:
        raise stale


def _print_build(result: BuildResult, output: OutputFormat) -> None:
    for note in result.notes:
        err_console.print(f"note: {note}", markup=False)
    if output == OutputFormat.json:
        print_json(
            {
                "run_id": result.run_id,
                "as_of": result.as_of,
                "backfill": result.backfill,
                "notes": result.notes,
                "invocation_id": result.invocation_id,
                "versions": result.versions,
                "events": result.events,
                "extraction": None
                if result.extraction is None
                else {"run_id": result.extraction.run_id, "versions": result.extraction.versions},
            }
        )
        return
    kind = " (a backfill: published, not current)" if result.backfill else ""
    console.print(
        f"build {result.run_id} as of {result.as_of}{kind}: published {len(result.versions)} dataset(s)",
        markup=False,
    )
    emit(OutputFormat.text, "published versions", result.versions)
    if result.events:
        emit(OutputFormat.text, "events", [{"event_type": k, **v} for k, v in result.events.items()])
    if result.extraction and result.extraction.run_id:
        emit(
            OutputFormat.text, f"transcript extraction {result.extraction.run_id}", result.extraction.versions
        )


events_app = typer.Typer(help="The events index (detected by `lakehouse build`).", no_args_is_help=True)


class EventStatus(StrEnum):
    active = "active"
    resolved = "resolved"
    archived = "archived"


@events_app.command("list")
@catch_errors
def events_list_command(
    company: CompanyOpt,
    status: Annotated[EventStatus | None, typer.Option(help="Only events with this status.")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="Only this event type.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """List events from the events index, oldest first by type."""
    validate_slug("company", company)
    with open_store() as store:
        events = store.dal.list_events(company, status.value if status else None, event_type, limit)
    rows = [
        {
            "event_id": e.event_id,
            "type": e.event_type,
            "entity": f"{e.entity_type}:{e.entity_id}",
            "severity": e.severity,
            "status": e.status,
            "first_seen_at": e.first_seen_at,
            "last_seen_at": e.last_seen_at,
            "details": e.details,
        }
        for e in events
    ]
    if output == OutputFormat.json:
        print_json(rows)
        return
    emit(
        OutputFormat.text,
        f"events of {company}",
        [
            r
            | {
                "first_seen_at": f"{r['first_seen_at']:%Y-%m-%d %H:%M:%S}",
                "last_seen_at": f"{r['last_seen_at']:%Y-%m-%d %H:%M:%S}",
            }
            for r in rows
        ],
        ["type", "entity", "severity", "status", "first_seen_at", "last_seen_at"],
    )


@catch_errors
def extract_command(
    company: CompanyOpt,
    wait: Annotated[int, typer.Option(help="Seconds to wait for a build of the company to finish.")] = 0,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Extract fields from call transcripts (config/extraction/*.json) into gold profile datasets.

    Runs under the company's build lock, so it never overlaps a build.
    """
    settings = get_settings()
    config = load_config(settings.config_dir)
    validate_slug("company", company)
    with open_store(settings) as store:
        result = run_extraction(
            store,
            config,
            company,
            lock=True,
            wait_seconds=wait,
            on_wait=lambda msg: err_console.print(msg, markup=False),
        )
        stale = store.stale_catalog(company)
    if output == OutputFormat.json:
        print_json({"run_id": result.run_id, "versions": result.versions, "skipped": result.skipped})
    else:
        for reason in result.skipped:
            console.print(f"skipped: {reason}", markup=False)
        if result.run_id:
            console.print(f"extraction {result.run_id}", markup=False)
            emit(OutputFormat.text, "published versions", result.versions)
    if stale is not None:
        raise stale
