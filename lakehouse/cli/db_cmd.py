"""``lakehouse db``: control-plane schema migrations."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from lakehouse.cli.errors import catch_errors
from lakehouse.cli.output import OutputFormat, console, print_json
from lakehouse.db import migrate
from lakehouse.db.engine import make_engine, redact_url
from lakehouse.settings import get_settings

app = typer.Typer(help="Migrate the control-plane database (LAKEHOUSE_DATABASE_URL).", no_args_is_help=True)


@app.command("upgrade")
@catch_errors
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (default: the newest, 'head').")] = "head",
) -> None:
    """Upgrade the control-plane schema to REVISION."""
    url = get_settings().database_url
    before = _current(url)
    migrate.upgrade(url, revision)
    _report(url, "upgraded", before, _current(url))


_STEPS_BACK = re.compile(r"-\d+")


def _revision_argument(value: str) -> str:
    # -1 looks like an option to click, so the command keeps unknown options as arguments;
    # anything else that starts with "-" is still refused as the unknown option it is.
    if value.startswith("-") and not _STEPS_BACK.fullmatch(value):
        raise typer.BadParameter(f"no such option {value!r} (a step back is written -1, -2, ...)")
    return value


_DOWNGRADE_HELP = "\n\n".join(
    [
        "Downgrade the control-plane schema to REVISION, keeping every row.",
        "Accepted forms: `db downgrade -1` (or -2, ...: steps back), `db downgrade -- -1`, "
        "`db downgrade <revision id>`, `db downgrade base [--drop-data]`.",
        "A later `lakehouse db upgrade` gives back the same rows and values; a downgrade that cannot "
        "keep a value is refused and names it. base drops every table: it is refused while one holds "
        "rows, unless --drop-data is given.",
    ]
)


@app.command("downgrade", help=_DOWNGRADE_HELP, context_settings={"ignore_unknown_options": True})
@catch_errors
def downgrade(
    revision: Annotated[
        str,
        typer.Argument(
            help="Target revision: an id, a number of steps back (-1, -2; `-- -1` works too), "
            "or base to remove every table.",
            show_default=False,
            callback=_revision_argument,
        ),
    ],
    drop_data: Annotated[
        bool, typer.Option("--drop-data", help="Let a downgrade to base drop tables that hold rows.")
    ] = False,
) -> None:
    """Downgrade the control-plane schema to REVISION, keeping every row (see ``_DOWNGRADE_HELP``)."""
    url = get_settings().database_url
    before = _current(url)
    migrate.downgrade(url, revision, drop_data=drop_data)
    _report(url, "downgraded", before, _current(url))


@app.command("current")
@catch_errors
def current(
    output: Annotated[OutputFormat, typer.Option("--output", "-o", help="text or json")] = OutputFormat.text,
) -> None:
    """Show the revision the control plane is at, and the newest one the code knows."""
    url = get_settings().database_url
    rev = _current(url)
    head = migrate.head_revision()
    if output == OutputFormat.json:
        print_json({"current": rev, "head": head, "up_to_date": rev == head, "url": redact_url(url)})
        return
    state = "up to date" if rev == head else f"behind head {head}: run `lakehouse db upgrade`"
    console.print(f"{rev or 'none (empty database)'} ({state}) at {redact_url(url)}", markup=False)


def _report(url: str, done: str, before: str | None, after: str | None) -> None:
    """One line: what a migration did (from which revision to which), or that there was nothing to do."""
    if before == after:
        line = f"control plane already at {after or 'base (no tables)'}: nothing to do"
    else:
        line = f"control plane {done} from {before or 'base (no tables)'} to {after or 'base (no tables)'}"
    console.print(f"{line} ({redact_url(url)})", markup=False)


def _current(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return migrate.current_revision(engine)
    finally:
        engine.dispose()
