"""Entry point of the ``lakehouse`` command."""

from __future__ import annotations

import os
from importlib import metadata
from typing import Annotated

import typer

from lakehouse.cli import (
    build_cmd,
    config_cmd,
    data_cmd,
    db_cmd,
    dbt_cmd,
    events_cmd,
    extract_cmd,
    gates_cmd,
    ingest_cmd,
    migrate_cmd,
    notify_cmd,
    scheduler_cmd,
)
from lakehouse.cli.demo_cmd import demo_command
from lakehouse.cli.errors import OneLineUsageErrors, configure_logging
from lakehouse.cli.generate_cmd import generate_command
from lakehouse.cli.query_cmd import query_command
from lakehouse.resources import find_resource

#: The distribution that installs the ``lakehouse`` command (pyproject.toml's project name).
DISTRIBUTION = "datahound-lakehouse"


def _defaults_help() -> str:
    """The epilog of ``lakehouse --help``: the defaults relative to the working directory, and where
    the shipped dbt project, queries and default config are (typer keeps its line breaks)."""
    shipped = find_resource("dbt_project")
    where = f" in {shipped.parent}" if shipped is not None else ""
    return "\n".join(
        [
            "Defaults (relative paths are relative to the folder the command runs in):",
            "- data root: ./data (LAKEHOUSE_DATA_ROOT)",
            "- config: ./config when it exists, else the default config shipped with the package "
            "(LAKEHOUSE_CONFIG_DIR; a folder it names that does not exist is an error naming it)",
            "- database: sqlite:///<data root>/_control/lakehouse.db (LAKEHOUSE_DATABASE_URL, "
            "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/lakehouse)",
            "- dbt project, saved queries: ./dbt_project, ./queries when they exist, else the copies "
            f"shipped with the package{where} (LAKEHOUSE_DBT_PROJECT_DIR, LAKEHOUSE_QUERIES_DIR)",
            "Shell completion: `lakehouse --install-completion` (bash, zsh, fish, PowerShell), "
            "or `lakehouse --show-completion` to print the script.",
        ]
    )


app = typer.Typer(
    name="lakehouse",
    cls=OneLineUsageErrors,
    epilog=_defaults_help(),
    help=(
        "DataHound Lakehouse: Parquet zones (bronze/silver/gold) built with DuckDB and dbt, "
        "a control plane in SQLite or PostgreSQL (LAKEHOUSE_DATABASE_URL), and JSON config (LAKEHOUSE_CONFIG_DIR)."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)


def _print_version(value: bool) -> None:
    if value:
        try:
            installed = metadata.version(DISTRIBUTION)
        except metadata.PackageNotFoundError:  # run from a source tree that was never installed
            installed = "unknown (not installed)"
        typer.echo(f"lakehouse {installed} ({DISTRIBUTION})")
        raise typer.Exit()


@app.callback()
def _root(
    log_level: Annotated[
        str,
        typer.Option(
            "--log-level",
            envvar="LAKEHOUSE_LOG_LEVEL",
            help="Logging level: DEBUG (shows tracebacks), INFO, WARNING, ERROR.",
        ),
    ] = "WARNING",
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Show the traceback of a failure (by default each failure is one line on stderr).",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the installed version and exit."
        ),
    ] = False,
) -> None:
    configure_logging(log_level, verbose)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


app.add_typer(db_cmd.app, name="db")
app.add_typer(config_cmd.app, name="config")
app.command("generate")(generate_command)
app.command("ingest")(ingest_cmd.ingest_command)
app.command("datasets")(data_cmd.datasets_command)
app.add_typer(data_cmd.runs_app, name="runs")
app.command("verify")(data_cmd.verify_command)
app.command("gc")(data_cmd.gc_command)
app.command("catalog")(data_cmd.catalog_command)
app.command("query")(query_command)
app.command("build")(build_cmd.build_command)
app.command("dbt", context_settings=dbt_cmd.DBT_CONTEXT)(dbt_cmd.dbt_command)
app.command("docs")(dbt_cmd.docs_command)
app.add_typer(events_cmd.events_app, name="events")
app.command("extract")(extract_cmd.extract_command)
app.add_typer(scheduler_cmd.scheduler_app, name="scheduler")
app.add_typer(gates_cmd.gates_app, name="gates")
app.add_typer(notify_cmd.notify_app, name="notify")
app.add_typer(migrate_cmd.migrate_app, name="migrate")
app.command("demo")(demo_command)


def main() -> None:
    """Run the CLI."""
    app()


if __name__ == "__main__":
    main()
