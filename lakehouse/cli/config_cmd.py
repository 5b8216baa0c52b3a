"""``lakehouse config``: check the JSON config plane."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from lakehouse.cli.options import OutputOpt
from lakehouse.cli.output import OutputFormat
from lakehouse.config import list_config_files
from lakehouse.config.loader import check_config_dir
from lakehouse.errors import ConfigProblem, LakehouseError
from lakehouse.settings import get_settings

app = typer.Typer(help="Check the JSON config plane (global.json, events/*.json, extraction/*.json).")


@app.callback()
def _group() -> None:
    """Check the JSON config plane."""
    # A callback keeps `validate` a named subcommand even while it is the only one.


@app.command()
def validate(
    config_dir: Annotated[
        Path | None,
        typer.Option(
            "--config-dir",
            help="Config directory (default: LAKEHOUSE_CONFIG_DIR, else ./config, else the shipped default).",
        ),
    ] = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Validate every config file and print every problem (exit code 1 if there is any).

    A valid config may still print warnings (exit code 0): an enabled notification channel that
    nothing will be sent to (its environment variable is not set, or email, which cannot be sent).
    """
    directory = config_dir if config_dir is not None else _default_config_dir()
    problems, warnings = check_config_dir(directory)
    file_count = len(list_config_files(directory))
    if output is OutputFormat.json:
        typer.echo(json.dumps(_as_json(directory, file_count, problems, warnings), indent=2))
    elif problems:
        for problem in problems:
            typer.echo(str(problem))
    else:
        for warning in warnings:
            typer.echo(f"warning: {warning}")
        noted = f" ({len(warnings)} warning(s))" if warnings else ""
        typer.echo(f"OK: {file_count} files valid in {directory}{noted}")
    if problems:
        raise typer.Exit(code=1)


def _default_config_dir() -> Path:
    try:
        return get_settings().config_dir
    except (LakehouseError, ValidationError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc


def _as_json(
    directory: Path, file_count: int, problems: list[ConfigProblem], warnings: list[ConfigProblem]
) -> dict[str, object]:
    # Warnings are listed with the problems, each with its "level"; only errors make "ok" false.
    return {
        "config_dir": str(directory),
        "ok": not problems,
        "files": file_count,
        "problems": [
            {"file": p.file, "location": p.location, "message": p.message, "level": level}
            for level, group in (("error", problems), ("warning", warnings))
            for p in group
        ],
    }
