"""``lakehouse query``: read-only analyst SQL over a company's catalog."""

from __future__ import annotations

import io
import logging
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from lakehouse.cli.errors import JsonPrinted, catch_errors, err_console
from lakehouse.cli.options import FROM_CONFIG, CompanyOpt, parse_dt, require_company
from lakehouse.cli.output import console
from lakehouse.errors import DataPlaneError, InvalidArgumentError, LakehouseError, UsageError
from lakehouse.names import DATA_ZONES, validate_slug
from lakehouse.query.render import EXTENSIONS, FORMATS, MAX_TABLE_ROWS, choose_format, render
from lakehouse.query.sandbox import parse_params, stream_query
from lakehouse.query.saved import optional_parameters, resolve_query
from lakehouse.settings import Settings, get_settings

if TYPE_CHECKING:
    from datetime import date

    import pyarrow as pa

    from lakehouse.config.models import QueryConfig

# What the plain query path imports is kept small (tests/cli/test_startup_imports.py): the control
# plane's DAL (SQLAlchemy, Alembic) only when the catalog must be checked or rebuilt through it.

logger = logging.getLogger(__name__)


@catch_errors
def query_command(
    query: Annotated[str, typer.Argument(help="SQL text, a saved query name, or queries/NAME.sql.")],
    company: CompanyOpt = FROM_CONFIG,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="Bound parameter k=v ($k in the SQL); each $k needs one unless the saved query's "
            "header declares it optional.",
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FORMAT",
            show_default=False,
            help=f"Output format: {', '.join(FORMATS)} (default: from the extension of --out, else table).",
        ),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", hidden=True, help="Deprecated: use -o/--output.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help=f"Write the result to this file, streamed (required for parquet); its extension "
            f"({', '.join(EXTENSIONS)}) gives the format."
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(min=0, metavar="N", help="Return at most N rows (a line on stderr says when it cuts)."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help="Stop the query after this many seconds, 0 for no limit "
            "(default: query.timeout_seconds in global.json, else 300).",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="YYYY-MM-DD",
            help="Query the data as of a date: each silver/gold dataset's newest version with as-of on "
            "or before it, bronze rows with dt on or before it (default: what is current).",
        ),
    ] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option(
            "--memory-limit",
            metavar="SIZE",
            help="DuckDB memory limit of the query, e.g. 4GB or 512MiB "
            "(default: query.memory_limit in global.json, else 4GB).",
        ),
    ] = None,
) -> None:
    """Run one read-only statement against the company's DuckDB catalog (bronze/silver/gold views)."""
    settings = get_settings()
    chosen = choose_format(_requested_format(output, fmt), out)
    if out is not None:
        _check_writable(out)
    limits = _limits(settings, timeout, memory_limit)
    _name, sql = resolve_query(query, settings.queries_dir)
    params = parse_params(param or [])
    day = parse_dt(as_of, "--as-of")
    validate_slug("company", company)
    fresh = _current_catalog(settings, company) if day is None else None
    scratch = tempfile.TemporaryDirectory(prefix="lakehouse-query-") if day is not None else None
    missing: list[str] = []
    if fresh is not None:  # the catalog shows what is committed: no need for the DAL
        catalog, allowed = fresh
    else:
        catalog, allowed, missing = _catalog_through_the_dal(settings, company, day, scratch)
    # One row more than --limit tells whether it cut the result; the terminal shows MAX_TABLE_ROWS,
    # and one more tells that there are more.
    fetch = None if limit is None else limit + 1
    if chosen == "table":
        fetch = MAX_TABLE_ROWS + 1 if fetch is None else min(fetch, MAX_TABLE_ROWS + 1)
    optional = optional_parameters(sql)
    try:
        with stream_query(catalog, sql, params, allowed, fetch, limits, optional_params=optional) as reader:
            capped = _Capped(reader, limit)
            # A JSON document streamed to stdout is the command's output: a failure after its first
            # bytes is said on stderr only (catch_errors), not appended to it.
            target = Console(file=_MarkedStdout()) if out is None and chosen != "table" else console
            render(capped.reader(), chosen, out, target)
        if capped.cut:
            err_console.print(
                f"showing the first {limit} rows (--limit {limit}; the result has more)", markup=False
            )
    except LakehouseError as exc:
        named = [m for m in missing if m.split(".")[1] in str(exc)]
        if not named:
            raise
        raise DataPlaneError(
            f"{', '.join(named)} had no version on or before --as-of {day} (nothing built that early, "
            f"or gc expired it): pick a later date ({exc})"
        ) from exc
    finally:
        if scratch is not None:
            scratch.cleanup()


def _current_catalog(settings: Settings, company: str) -> tuple[Path, list[str]] | None:
    """The company's catalog and its zone folders, when a direct read of the SQLite control plane
    tells that the catalog is current (:mod:`lakehouse.query.freshness`); None: ask the DAL."""
    from lakehouse.dataplane.zones import DataRoot
    from lakehouse.query.freshness import current_catalog

    if settings.data_root_is_remote:
        return None  # a shared PostgreSQL control plane: ask the DAL
    root = DataRoot.from_uri(str(settings.data_root))
    catalog = current_catalog(settings.database_url, root.catalog_path(company), company)
    if catalog is None:
        return None
    return catalog, [root.zone_location(company, z) for z in DATA_ZONES]


def _catalog_through_the_dal(
    settings: Settings, company: str, day: date | None, scratch: tempfile.TemporaryDirectory[str] | None
) -> tuple[Path, list[str], list[str]]:
    """The catalog to query (refreshed if a crash left it behind the control plane, or one of its own
    in ``scratch`` as of ``day``), the zone folders it may read, and the views missing as of ``day``."""
    from lakehouse.query.catalog import write_catalog
    from lakehouse.query.catalog_hook import catalog_views
    from lakehouse.runtime import open_store

    with open_store(settings) as store:
        require_company(store.dal, company)
        if not store.dal.list_dataset_versions(company):
            raise DataPlaneError(
                f"company {company!r} has nothing published yet: run `lakehouse ingest --company {company} ...` first"
            )
        missing: list[str] = []
        if scratch is not None and day is not None:
            # A catalog of its own for this query, with the views as of the date asked for.
            catalog = Path(scratch.name) / "catalog.duckdb"
            views = catalog_views(store, company, as_of=day)
            write_catalog(catalog, views)
            missing = _missing_as_of(catalog_views(store, company), views)
            newest = max((v.as_of for v in store.dal.list_dataset_versions(company) if v.as_of), default=None)
            if newest is not None and day > newest:
                err_console.print(
                    f"note: --as-of {day} is after the newest as-of published ({newest}): "
                    "this reads the current versions",
                    markup=False,
                )
        else:
            store.ensure_catalog(company)  # refreshed if a crash left it behind the control plane
            catalog = store.root.catalog_path(company)
        allowed = [store.root.zone_location(company, z) for z in DATA_ZONES]
    return catalog, allowed, missing


def _requested_format(output: str | None, deprecated: str | None) -> str | None:
    """``-o/--output``, or the deprecated ``--format/-f``; both given must agree."""
    if output is not None and deprecated is not None and output != deprecated:
        raise UsageError(
            f"-o {output} and --format {deprecated} disagree: give -o alone (--format is deprecated)"
        )
    return output if output is not None else deprecated


class _MarkedStdout(io.StringIO):
    """``sys.stdout`` (whatever it is now) that records that the command's output has begun."""

    def write(self, text: str) -> int:
        JsonPrinted.done = True
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


class _Capped:
    """The first ``limit`` rows of a reader (all of them for None); ``cut`` tells that it had more."""

    def __init__(self, reader: pa.RecordBatchReader, limit: int | None) -> None:
        self._source = reader
        self._limit = limit
        self.cut = False

    def reader(self) -> pa.RecordBatchReader:
        if self._limit is None:
            return self._source
        import pyarrow as pa

        return pa.RecordBatchReader.from_batches(self._source.schema, self._batches(self._limit))

    def _batches(self, limit: int) -> Iterator[pa.RecordBatch]:
        left = limit
        for batch in self._source:
            if batch.num_rows > left:
                self.cut = True
                if left:
                    yield batch.slice(0, left)
                return
            left -= batch.num_rows
            yield batch


def _missing_as_of(current: dict[str, dict[str, Any]], as_of: dict[str, dict[str, Any]]) -> list[str]:
    """``zone.dataset`` views of the current catalog that the as-of catalog has not."""
    return sorted(
        f"{z}.{d}" for z, datasets in current.items() for d in datasets if d not in as_of.get(z, {})
    )


def _limits(settings: Settings, timeout: float | None, memory_limit: str | None) -> QueryConfig:
    """The query section of global.json (defaults without the file), with the flags given on top."""
    from pydantic import ValidationError

    from lakehouse.config import load_config
    from lakehouse.config.loader import GLOBAL_FILE
    from lakehouse.config.models import QueryConfig

    if (settings.config_dir / GLOBAL_FILE).is_file():
        configured = load_config(settings.config_dir).global_.query
    else:
        logger.debug("no %s in %s: default query limits", GLOBAL_FILE, settings.config_dir)
        configured = QueryConfig()
    overrides: dict[str, object] = {}
    if timeout is not None:
        overrides["timeout_seconds"] = timeout
    if memory_limit is not None:
        overrides["memory_limit"] = memory_limit
    try:
        return QueryConfig.model_validate({**configured.model_dump(), **overrides})
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0])
        flag, expected = {
            "timeout_seconds": ("--timeout", "0 or more seconds"),
            "memory_limit": ("--memory-limit", "a size such as 4GB or 512MiB"),
        }.get(field, (field, "a valid value"))
        raise InvalidArgumentError(flag, overrides.get(field), expected) from None


def _check_writable(out: Path) -> None:
    """Refuse an ``--out`` that cannot be a file before the query runs: a folder, or a path below a
    file (missing folders are created)."""
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder: give a file name, e.g. {out / 'result.csv'}")
    existing = next(p for p in out.absolute().parents if p.exists())
    if not existing.is_dir():
        raise UsageError(f"--out {out}: {existing} is a file, not a folder")
