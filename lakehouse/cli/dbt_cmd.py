"""``lakehouse dbt`` and ``lakehouse docs``: dbt's own tools on a sandbox of a company's data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakehouse.cli.errors import catch_errors, err_console
from lakehouse.cli.options import FROM_CONFIG, CompanyOpt, OutputOpt, parse_dt
from lakehouse.cli.output import OutputFormat, console, print_json
from lakehouse.config import load_config
from lakehouse.errors import UsageError
from lakehouse.runtime import open_store
from lakehouse.settings import Settings, get_settings
from lakehouse.transform.dbt_dev import (
    check_dbt_args,
    dbt_sandbox,
    docs_server,
    generate_docs,
    run_dbt_command,
)

#: Typer settings of ``lakehouse dbt``: what follows ``--`` (or any unknown option) goes to dbt.
DBT_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}


@catch_errors
def dbt_command(
    company: CompanyOpt = FROM_CONFIG,
    args: Annotated[
        list[str] | None,
        typer.Argument(
            help="dbt's arguments, after `--`: build -s MODEL, test, ls, compile, show -s MODEL, docs generate.",
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="As-of date YYYY-MM-DD of the vars and views (default: a build's, the newest day "
            "every source has reached)."
        ),
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Prepare the scratch database again from the current views.")
    ] = False,
    print_env: Annotated[
        bool,
        typer.Option(
            "--print-env",
            help='Print the environment to run plain dbt on the sandbox (eval "$(lakehouse dbt -c C --print-env)") '
            "and run nothing.",
        ),
    ] = False,
) -> None:
    """Run a dbt command on a scratch copy of the company's current data; nothing is published.

    The scratch DuckDB file, dbt's target/ and logs/ are in <data_root>/<company>/_dev/dbt/, with the
    vars and environment of a build (company, as_of, the event rules of config/events/*.json).
    Exits with dbt's exit code. Example: lakehouse dbt -c acme -- build -s customer_360
    """
    dbt_args = list(args or [])
    if print_env and dbt_args:
        raise typer.BadParameter("--print-env runs nothing: drop the dbt arguments", param_hint="--print-env")
    if not dbt_args and not print_env:
        raise UsageError("give a dbt command after --, e.g. lakehouse dbt -- ls (or --print-env)")
    check_dbt_args(dbt_args)
    settings = get_settings()
    config = load_config(sandbox_config_dir(settings))
    with (
        open_store(settings) as store,
        dbt_sandbox(
            store,
            config,
            settings.dbt_project_dir,
            company,
            as_of=parse_dt(as_of, "--as-of"),
            fresh=fresh,
        ) as sandbox,
    ):
        for note in sandbox.notes:
            err_console.print(f"note: {note}")
        if print_env:
            console.print(sandbox.shell_env())
            return
        state = "prepared" if sandbox.prepared else "reused"
        err_console.print(
            f"dbt sandbox of {company} as of {sandbox.as_of} (nothing is published): database {sandbox.db_path} "
            f"({state}), target {sandbox.target_dir}, log {sandbox.log_dir / 'dbt.log'}"
        )
        result = run_dbt_command(sandbox, dbt_args)
    if result.usage_error:
        err_console.print(f"error: dbt: {result.usage_error}")
    raise typer.Exit(result.exit_code)


@catch_errors
def docs_command(
    company: CompanyOpt = FROM_CONFIG,
    serve: Annotated[bool, typer.Option("--serve", help="Serve the site on 127.0.0.1 until Ctrl-C.")] = False,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port of --serve (0: any free one).")] = 8080,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Generate dbt's docs site (models, columns, tests, lineage graph) of the current dbt project.

    Built in <data_root>/<company>/_dev/docs/ (every model created empty over the company's bronze
    views: no data is read, nothing is published); prints where index.html is.
    """
    settings = get_settings()
    config = load_config(sandbox_config_dir(settings))
    with open_store(settings) as store:
        site = generate_docs(store, config, settings.dbt_project_dir, company)
    for note in site.notes:
        err_console.print(f"note: {note}")
    if output == OutputFormat.json:
        print_json(
            {
                "index": str(site.index),
                "static_index": str(site.static_index),
                "manifest": str(site.manifest),
                "catalog": str(site.catalog),
                "log": str(site.log),
            }
        )
    else:
        console.print(f"docs: {site.index}")
        console.print(f"one-file version (opens without a server): {site.static_index}")
    if not serve:
        return
    server = docs_server(site.target_dir, port)
    with server:
        host, bound = server.server_address[:2]
        err_console.print(f"serving {site.target_dir} at http://{host!s}:{bound}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            err_console.print("stopped")


def sandbox_config_dir(settings: Settings) -> Path:
    """The config of a sandbox: ``config_dir``, or the shipped default one where there is no
    ./config and no LAKEHOUSE_CONFIG_DIR (a sandbox publishes nothing; said on stderr)."""
    folder, shipped = settings.config_dir_or_shipped()
    if shipped:
        err_console.print(
            f"config: {folder} (the default shipped with the package: no ./config here)", markup=False
        )
    return folder
