"""Entry point of the ``lakehouse`` command."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from lakehouse.cli.errors import OneLineUsageErrors, configure_logging
from lakehouse.cli.lazy import LazyCommand, LazyGroup
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


class LakehouseGroup(LazyGroup, OneLineUsageErrors):
    """The root group: one-line usage errors; each command is imported when it runs (:data:`COMMANDS`)."""


app = typer.Typer(
    name="lakehouse",
    cls=LakehouseGroup,
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
        from importlib import metadata

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


# The commands, in the order `lakehouse --help` lists them. Each is imported only when it runs (or
# when the help lists it): `lakehouse query` never imports dbt, the ORM or the ingest (see
# tests/cli/test_startup_imports.py).
COMMANDS: dict[str, LazyCommand] = {
    c.name: c
    for c in (
        LazyCommand("generate", "lakehouse.cli.generate_cmd", "generate_command"),
        LazyCommand("ingest", "lakehouse.cli.ingest_cmd", "ingest_command"),
        LazyCommand("datasets", "lakehouse.cli.data_cmd", "datasets_command"),
        LazyCommand("verify", "lakehouse.cli.data_cmd", "verify_command"),
        LazyCommand("gc", "lakehouse.cli.data_cmd", "gc_command"),
        LazyCommand("catalog", "lakehouse.cli.data_cmd", "catalog_command"),
        LazyCommand("query", "lakehouse.cli.query_cmd", "query_command"),
        LazyCommand("build", "lakehouse.cli.build_cmd", "build_command"),
        LazyCommand("dbt", "lakehouse.cli.dbt_cmd", "dbt_command", context_attr="DBT_CONTEXT"),
        LazyCommand("docs", "lakehouse.cli.dbt_cmd", "docs_command"),
        LazyCommand("extract", "lakehouse.cli.extract_cmd", "extract_command"),
        LazyCommand("demo", "lakehouse.cli.demo_cmd", "demo_command"),
        LazyCommand("db", "lakehouse.cli.db_cmd", "app", group=True),
        LazyCommand("config", "lakehouse.cli.config_cmd", "app", group=True),
        LazyCommand("runs", "lakehouse.cli.data_cmd", "runs_app", group=True),
        LazyCommand("events", "lakehouse.cli.events_cmd", "events_app", group=True),
        LazyCommand("scheduler", "lakehouse.cli.scheduler_cmd", "scheduler_app", group=True),
        LazyCommand("gates", "lakehouse.cli.gates_cmd", "gates_app", group=True),
        LazyCommand("notify", "lakehouse.cli.notify_cmd", "notify_app", group=True),
        LazyCommand("migrate", "lakehouse.cli.migrate_cmd", "migrate_app", group=True),
    )
}
LakehouseGroup.lazy_commands = COMMANDS


def main() -> None:
    """Run the CLI."""
    app()


if __name__ == "__main__":
    main()
