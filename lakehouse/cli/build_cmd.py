"""``lakehouse build``: dbt silver and gold for a company."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lakehouse.cli.errors import catch_errors, err_console
from lakehouse.cli.options import FROM_CONFIG, CompanyOpt, OutputOpt, parse_dt
from lakehouse.cli.output import OutputFormat, console, emit, print_json
from lakehouse.cli.progress import DbtNodeReporter, Steps
from lakehouse.config import LakehouseConfig, load_config
from lakehouse.errors import LakehouseError
from lakehouse.runtime import open_store
from lakehouse.settings import get_settings
from lakehouse.transform.build import BuildResult, DbtBuild

if TYPE_CHECKING:
    from lakehouse.dal import DataAccessLayer


@catch_errors
def build_command(
    company: CompanyOpt = FROM_CONFIG,
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
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Rebuild everything from all bronze files: no incremental build (which reads only "
            "the bronze files the last build did not and shares its unchanged files), and a build "
            "even when nothing changed since the last one (by default it publishes nothing).",
        ),
    ] = False,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Build silver and gold with dbt, test them, and publish them only if every test passes.

    A build continues the last full one when it can (same dbt project and config, its versions
    still current, an as-of on or after it): it reads only the new bronze files and shares the
    unchanged files of the last build's versions. A build with nothing new publishes nothing.
    """
    settings = get_settings()
    config = load_config(settings.config_dir)
    with open_store(settings) as store, Steps(f"build {company}", unit="dbt node(s)") as steps:
        on_node = DbtNodeReporter(steps)

        result = DbtBuild(store, config, settings.dbt_project_dir).run(
            company,
            select=select,
            as_of=parse_dt(as_of, "--as-of"),
            wait_seconds=wait,
            progress=on_node,
            on_wait=lambda msg: err_console.print(msg, markup=False),
            allow_partial=allow_partial,
            allow_empty=allow_empty,
            full_refresh=full_refresh,
        )
        stale = store.stale_catalog(company)
        _announce_new_events(store.dal, config, store.root.root, company)
    _print_build(result, output)
    if stale is not None:
        raise stale


def _announce_new_events(
    dal: DataAccessLayer, config: LakehouseConfig, data_root: Path, company: str
) -> None:
    """Announce once each new event whose rule sets ``notify``; a failure to do so fails no build."""
    from lakehouse.ops.notify import Notifier, notify_new_events

    try:
        notifier = Notifier.from_config(dal, config, data_root)
        announced = notify_new_events(dal, notifier, config, company)
    except LakehouseError as exc:
        err_console.print(f"warning: new events not announced: {exc}", markup=False)
        return
    for warning in notifier.warnings:
        err_console.print(f"warning: {warning}", markup=False)
    if announced:
        err_console.print(f"note: announced {announced} new event(s)", markup=False)


def _print_build(result: BuildResult, output: OutputFormat) -> None:
    for note in result.notes:
        err_console.print(f"note: {note}", markup=False)
    if output == OutputFormat.json:
        print_json(
            {
                "run_id": result.run_id,
                "as_of": result.as_of,
                "backfill": result.backfill,
                "unchanged_since": result.unchanged_since,
                "incremental_from": result.incremental_from,
                "bronze_files_read": result.bronze_files_read,
                "files_written": result.files_written,
                "files_shared": result.files_shared,
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
    if result.unchanged_since is not None:
        console.print(
            f"build {result.run_id} as of {result.as_of}: nothing changed since build "
            f"{result.unchanged_since}, whose versions stay current (--full-refresh builds anyway)",
            markup=False,
        )
        return
    kind = " (a backfill: published, not current)" if result.backfill else ""
    console.print(
        f"build {result.run_id} as of {result.as_of}{kind}: published {len(result.versions)} dataset(s)",
        markup=False,
    )
    mode = (
        f"incremental from build {result.incremental_from}: read {result.bronze_files_read} new bronze "
        f"file(s), wrote {result.files_written} file(s), shared {result.files_shared} unchanged"
        if result.incremental_from
        else f"full: read {result.bronze_files_read} bronze file(s), wrote {result.files_written} file(s)"
    )
    console.print(mode, markup=False)
    emit(OutputFormat.text, "published versions", result.versions)
    if result.events:
        emit(OutputFormat.text, "events", [{"event_type": k, **v} for k, v in result.events.items()])
    if result.extraction and result.extraction.run_id:
        emit(
            OutputFormat.text, f"transcript extraction {result.extraction.run_id}", result.extraction.versions
        )
