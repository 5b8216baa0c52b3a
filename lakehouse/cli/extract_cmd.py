"""``lakehouse extract``: transcript extraction into gold profile datasets."""

from __future__ import annotations

from typing import Annotated

import typer

from lakehouse.cli.errors import catch_errors, err_console
from lakehouse.cli.options import FROM_CONFIG, CompanyOpt, OutputOpt
from lakehouse.cli.output import OutputFormat, console, emit, print_json
from lakehouse.config import load_config
from lakehouse.names import validate_slug
from lakehouse.runtime import open_store
from lakehouse.settings import get_settings
from lakehouse.transform.extraction_run import run_extraction


@catch_errors
def extract_command(
    company: CompanyOpt = FROM_CONFIG,
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
