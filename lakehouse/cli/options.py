"""Options shared by several commands, and the checks of their values.

- ``-c/--company``: a company slug; without it, ``default_company`` of ``config/global.json``
  (:data:`CompanyOpt`, whose default is :data:`FROM_CONFIG`). Read commands refuse a company that
  holds no data (:func:`require_company`), so a typo is not an empty company.
- ``-o/--output``: the output format, ``text`` or ``json`` (``query``: table, csv, json, jsonl, parquet).
- ``--limit N``: how many rows a listing shows; a listing that cuts says so on stderr
  (:func:`~lakehouse.cli.output.note_cut`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from lakehouse.cli.errors import describe_failure
from lakehouse.cli.output import OutputFormat
from lakehouse.errors import DataPlaneError, UnknownNameError, UsageError

if TYPE_CHECKING:
    from lakehouse.dal import DataAccessLayer

#: The default of ``--company``: the ``default_company`` of config/global.json.
FROM_CONFIG = ""
#: The pipelines the lakehouse runs (``runs --pipeline``); others found in the control plane count too.
KNOWN_PIPELINES = ("dbt_build", "events_refresh", "ingest", "transcript_pipeline")


def default_company() -> str:
    """The ``default_company`` of config/global.json.

    Raises:
        typer.BadParameter: the config cannot be read (a usage error: give ``--company``).
    """
    from lakehouse.config import load_config
    from lakehouse.settings import get_settings

    try:
        return load_config(get_settings().config_dir_or_shipped()[0]).global_.default_company
    except Exception as exc:  # settings or config: either way the user can name the company
        raise typer.BadParameter(
            f"no company given, and no default_company could be read from config/global.json "
            f"({describe_failure(exc, hint=False)})",
            param_hint="'--company' / '-c'",
        ) from None


def _company_or_default(value: str | None) -> str:
    return value or default_company()


_COMPANY_HELP = "Company slug, e.g. acme (default: default_company of config/global.json)."
CompanyOpt = Annotated[
    str,
    typer.Option(
        "--company",
        "-c",
        metavar="SLUG",
        show_default=False,
        callback=_company_or_default,
        help=_COMPANY_HELP,
    ),
]
#: ``--company`` left None when not given, for a command that resolves the default itself (later, or
#: from the config it loads).
OptionalCompanyOpt = Annotated[
    str | None, typer.Option("--company", "-c", metavar="SLUG", show_default=False, help=_COMPANY_HELP)
]
OutputOpt = Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format: text or json.")]
LimitOpt = Annotated[int, typer.Option("--limit", min=1, metavar="N", help="Show at most N rows.")]


def configured_companies() -> list[str]:
    """The company slugs of config/global.json ([] when it cannot be read)."""
    from lakehouse.config import load_config
    from lakehouse.settings import get_settings

    try:
        return [c.slug for c in load_config(get_settings().config_dir).global_.companies]
    except Exception:  # a read command does not need the config: the check only names fewer companies
        return []


def require_company(dal: DataAccessLayer, company: str) -> None:
    """Refuse a company that holds no data (no pipeline run ever recorded for it).

    Raises:
        UnknownNameError: a company the control plane and the config do not know (exit code 2),
            naming the known ones.
        DataPlaneError: a company of config/global.json that holds no data yet.
    """
    with_data = {c for c, _ in dal.count_pipeline_runs()}
    if company in with_data:
        return
    configured = configured_companies()
    if company in configured:
        raise DataPlaneError(
            f"company {company!r} has no data yet: `lakehouse ingest -c {company} EXTRACTS` "
            f"(or `lakehouse demo -c {company}`) creates it"
        )
    raise UnknownNameError("company", company, sorted(with_data | set(configured)))


def require_known(kind: str, value: str | None, known: Iterable[str]) -> None:
    """Refuse a filter value (``--type``, ``--pipeline``) that names nothing known (exit code 2)."""
    names = sorted(set(known))
    if value is not None and value not in names:
        raise UnknownNameError(kind, value, names)


def parse_dt(value: str | None, option: str = "--dt") -> date | None:
    """Parse a YYYY-MM-DD option value (None stays None)."""
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date: use YYYY-MM-DD") from None
