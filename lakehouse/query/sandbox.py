"""Read-only analyst SQL over a company's catalog.

Two fences, both needed:

1. :func:`check_read_only` parses the SQL (without running it) and lets through exactly one read
   statement: SELECT (which also covers ``FROM ...``, ``VALUES``, ``WITH ... SELECT``, ``DESCRIBE``,
   ``SUMMARIZE``, ``SHOW`` and table-valued ``PRAGMA``\\ s such as ``PRAGMA table_info('x')``) or an
   EXPLAIN of such a statement (``EXPLAIN ANALYZE`` runs its statement, so ``EXPLAIN ANALYZE COPY ...``
   would write: the explained statement is checked too). Everything else is refused by statement
   type: DDL and DML, COPY, ATTACH/DETACH, INSTALL/LOAD, SET/RESET/USE, EXPORT/IMPORT, CALL (every
   table function it could call is reachable with ``SELECT * FROM f()``, so refusing it costs nothing
   and keeps the allow-list at two types), PRAGMAs that change settings, transactions, PREPARE/EXECUTE,
   VACUUM/ANALYZE/CHECKPOINT, and a PIVOT without an ``IN`` list (DuckDB runs it as CREATE + SELECT).
2. :func:`stream_query` (and :func:`run_query`, which collects its stream) attaches the catalog
   read-only to a fresh in-memory DuckDB (so the sandbox settings never leak into other connections
   of the process) and, before running anything, sets the query's memory limit (see
   :mod:`lakehouse.query.limits`) and restricts file access to the company's zone folders:
   ``SET allowed_directories``, ``SET enable_external_access = false``,
   ``SET lock_configuration = true`` (in that order).
   Functions inside a SELECT that read files (``read_csv('/etc/passwd')``, ``glob``, ``read_text``,
   paths with ``..``, URLs) then fail with a permission error, reported as
   :class:`~lakehouse.errors.QueryRefusedError`. (DuckDB keeps the attached catalog file itself
   readable; it holds only view definitions and file lists.)

Parameters are always bound, never formatted into the SQL: ``$name`` from a mapping, ``?`` from a
sequence. Values given on the command line stay strings; DuckDB casts a bound string where the context
fixes the type (``month >= $since``), and an explicit ``cast($since as date)`` always works.

A named parameter the caller does not give is an error naming it when the caller says which ones
are optional (``optional_params``: ``lakehouse query`` passes those its header declares, see
:func:`lakehouse.query.saved.optional_parameters`); an optional one is bound as NULL, so saved
queries handle it with ``$since is null or ...`` or ``coalesce(cast($limit as integer), 20)``.
Without ``optional_params`` (the Python API's default) every missing one is bound as NULL.

A query that runs longer than ``query.timeout_seconds`` (300 s by default) is interrupted, and one
that needs more than ``query.memory_limit`` (4GB) fails unless DuckDB can spill to disk; both are
reported as :class:`~lakehouse.errors.QueryError` naming the limit.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import tempfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa

from lakehouse.config.models import QueryConfig
from lakehouse.dataplane import duck
from lakehouse.dataplane.sql import quote_literal
from lakehouse.errors import QueryError, QueryParameterError, QueryRefusedError
from lakehouse.query.limits import Deadline, apply_limits, error_message, query_error

logger = logging.getLogger(__name__)

_ALLOWED_TYPES = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})
_READ_STATEMENTS = "SELECT, WITH, FROM, VALUES, DESCRIBE, SUMMARIZE, SHOW, EXPLAIN"
_TYPE_LABELS = {
    "LOAD": "INSTALL/LOAD",
    "SET": "SET/RESET/USE",
    "VARIABLE_SET": "SET VARIABLE",
    "VACUUM": "VACUUM/ANALYZE",
    "MERGE_INTO": "MERGE",
    "TRANSACTION": "BEGIN/COMMIT/ROLLBACK",
}
_TYPE_HINTS = {
    "CALL": "; use SELECT * FROM <function>(...) instead",
}
CATALOG_ALIAS = "catalog"
STREAM_BATCH_ROWS: Final = 65_536
_PARAM_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_read_only(sql: str) -> None:
    """Refuse ``sql`` unless it is exactly one read statement.

    Args:
        sql: the analyst's SQL text.

    Raises:
        QueryRefusedError: the SQL holds more than one statement, or a statement that is not a read
            (its type is named in the message).
        QueryError: the SQL is empty or does not parse.
    """
    con = _parser_connection()
    try:
        statements = _extract(con, sql)
        if not statements:
            raise QueryError("the query is empty: give one SELECT statement")
        for statement in statements:
            _check_statement(con, statement, sql)
        if len(statements) > 1:
            raise QueryRefusedError(
                f"the query holds {len(statements)} statements; only one read statement runs per query"
            )
    finally:
        con.close()


def run_query(
    catalog_path: Path,
    sql: str,
    params: Mapping[str, object] | Sequence[object] | None,
    allowed_dirs: Sequence[str | Path],
    limit: int | None = None,
    limits: QueryConfig | None = None,
    optional_params: Collection[str] | None = None,
) -> pa.Table:
    """Run one read-only statement against a company's catalog and return the whole result.

    Args:
        catalog_path: the company's ``catalog.duckdb``.
        sql: one read statement (see :func:`check_read_only`).
        params: values for ``$name`` parameters (a mapping, or None for none) or for ``?``
            parameters (a sequence).
        allowed_dirs: the only folders the query may read, normally the company's zone folders.
        limit: return at most this many rows, or None for all.
        limits: time and memory limits; None for the defaults of :class:`QueryConfig`.
        optional_params: the ``$name`` parameters that may be left out (bound as NULL); any other
            one left out is an error naming it. None: every one may be left out.

    Returns:
        The result as a pyarrow Table (use :func:`stream_query` for results too big to hold).

    Raises:
        QueryRefusedError: the SQL is not read-only, or it tried to read outside ``allowed_dirs``.
        QueryError: the catalog is missing, the parameters do not fit (one unknown, or one left out
            that is not optional), the query ran out of time or memory, or DuckDB failed (its
            message is kept, on one line).
    """
    with stream_query(
        catalog_path, sql, params, allowed_dirs, limit, limits, optional_params=optional_params
    ) as reader:
        table = reader.read_all()
    logger.debug("query returned %d row(s)", table.num_rows)
    return table


@contextlib.contextmanager
def stream_query(
    catalog_path: Path,
    sql: str,
    params: Mapping[str, object] | Sequence[object] | None,
    allowed_dirs: Sequence[str | Path],
    limit: int | None = None,
    limits: QueryConfig | None = None,
    batch_rows: int = STREAM_BATCH_ROWS,
    optional_params: Collection[str] | None = None,
) -> Iterator[pa.RecordBatchReader]:
    """Run one read-only statement and yield its result as a stream of record batches.

    DuckDB computes the batches as they are read, so a consumer that writes each batch out holds one
    batch at a time. The reader is valid inside the ``with`` block only; the timeout covers the whole
    block. Errors while reading are raised as :class:`QueryError`/:class:`QueryRefusedError` too.

    Args:
        catalog_path: the company's ``catalog.duckdb``.
        sql: one read statement (see :func:`check_read_only`).
        params: as for :func:`run_query`.
        allowed_dirs: the only folders the query may read.
        limit: return at most this many rows, or None for all.
        limits: time and memory limits; None for the defaults of :class:`QueryConfig`.
        batch_rows: rows per record batch.
        optional_params: as for :func:`run_query`.

    Yields:
        A pyarrow RecordBatchReader over the result.

    Raises:
        QueryRefusedError: as for :func:`run_query`.
        QueryError: as for :func:`run_query`.
    """
    check_read_only(sql)
    if limit is not None and limit < 0:
        raise QueryError(f"limit must be 0 or more, got {limit}")
    limits = limits if limits is not None else QueryConfig()
    with tempfile.TemporaryDirectory(prefix="lakehouse-query-") as spill_dir:
        con = _open_catalog(Path(catalog_path), Path(spill_dir))
        try:
            apply_limits(con, limits)
            _sandbox(con, allowed_dirs)
            statement = _extract(con, sql)[0]
            bound = _bind(statement.named_parameters, params, optional_params)
            with Deadline(con, limits.timeout_seconds) as deadline:
                try:
                    relation = con.sql(sql, params=bound)
                    if limit is not None:
                        relation = relation.limit(limit)
                    reader = relation.to_arrow_reader(batch_rows)
                except duckdb.Error as exc:
                    raise query_error(exc, deadline, limits) from exc
                yield pa.RecordBatchReader.from_batches(reader.schema, _batches(reader, deadline, limits))
        finally:
            con.close()


def _batches(
    reader: pa.RecordBatchReader, deadline: Deadline, limits: QueryConfig
) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            raise query_error(exc, deadline, limits) from exc
        yield batch


def parse_params(items: Sequence[str]) -> dict[str, str]:
    """Parse command-line ``--param name=value`` items into a mapping of strings.

    The value is everything after the first ``=`` and stays a string; a leading ``$`` on the name is
    accepted (``$since=2024-01-01``).

    Raises:
        QueryError: an item has no ``=`` or an invalid name, or a name is given twice.
    """
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().removeprefix("$")
        if not sep or not _PARAM_NAME_RE.match(name):
            raise QueryError(
                f"malformed parameter {item!r}: write name=value with a name of letters, digits and '_', "
                "e.g. --param since=2024-01-01"
            )
        if name in result:
            raise QueryError(f"parameter {name!r} is given twice")
        result[name] = value
    return result


def query_parameters(sql: str) -> tuple[str, ...]:
    """Return the sorted parameter names of ``sql`` (``$name``; ``?`` shows as ``1``, ``2``, ...).

    Returns an empty tuple when the SQL does not parse or holds no statement.
    """
    con = _parser_connection()
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error:
        return ()
    finally:
        con.close()
    return tuple(sorted({name for s in statements for name in s.named_parameters}))


# --- statement checks ------------------------------------------------------------------------------


@functools.cache
def _parser_database() -> duckdb.DuckDBPyConnection:
    # Parsing IMPORT DATABASE reads files already: parse with file access switched off. A new
    # database costs ~40 ms, a cursor on this shared one next to nothing (and is thread-safe).
    con = duck.connect()
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")
    return con


def _parser_connection() -> duckdb.DuckDBPyConnection:
    return _parser_database().cursor()


def _extract(con: duckdb.DuckDBPyConnection, sql: str) -> list[duckdb.Statement]:
    try:
        return list(con.extract_statements(sql))
    except duckdb.PermissionException as exc:
        raise QueryRefusedError(
            f"the query reads files while being parsed (IMPORT DATABASE?): {_one_line(exc)}; "
            f"only read statements run ({_READ_STATEMENTS})"
        ) from exc
    except duckdb.Error as exc:
        raise QueryError(f"cannot parse the query: {_one_line(exc)}") from exc


def _check_statement(con: duckdb.DuckDBPyConnection, statement: duckdb.Statement, source: str) -> None:
    # A statement DuckDB generates (the CREATE TYPE of a PIVOT) has no text of its own.
    text = statement.query or source
    if statement.type not in _ALLOWED_TYPES:
        raise QueryRefusedError(
            f"refused {_label(statement.type.name, text)} statement ({_snippet(text)}): only read "
            f"statements run ({_READ_STATEMENTS}){_hint(statement.type.name, text)}"
        )
    if statement.type == duckdb.StatementType.EXPLAIN:
        _check_statement(con, _explained(con, text), text)


def _explained(con: duckdb.DuckDBPyConnection, query: str) -> duckdb.Statement:
    """Return the statement under ``EXPLAIN [ANALYZE] [(options)]``.

    The Python API does not expose it, so parse the text from each token after ``EXPLAIN`` until a
    suffix parses as one statement: the keywords and options in between never do on their own.
    """
    for offset, _ in duckdb.tokenize(query)[1:]:
        try:
            inner = con.extract_statements(query[offset:])
        except duckdb.PermissionException as exc:
            raise QueryRefusedError(f"refused an EXPLAIN that reads files: {_one_line(exc)}") from exc
        except duckdb.Error:
            continue
        if len(inner) == 1:
            return inner[0]
    raise QueryRefusedError(f"cannot tell which statement this EXPLAIN explains: {_snippet(query)}")


def _label(type_name: str, text: str) -> str:
    if type_name.isidentifier() and type_name != "INVALID":
        return _TYPE_LABELS.get(type_name, type_name)
    # DuckDB leaves some statements untyped ('update extensions' reports '???'): name the keyword.
    tokens = duckdb.tokenize(text)
    if not tokens:
        return "an unknown"
    end = tokens[1][0] if len(tokens) > 1 else len(text)
    return text[tokens[0][0] : end].strip().upper()


def _hint(type_name: str, text: str) -> str:
    if type_name == "CREATE" and "pivot" in text.lower():
        return (
            "; a PIVOT without an IN list creates a type first: list the values, "
            "e.g. PIVOT t ON col IN ('a', 'b')"
        )
    return _TYPE_HINTS.get(type_name, "")


def _snippet(query: str, width: int = 60) -> str:
    text = " ".join(query.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _one_line(exc: BaseException) -> str:
    return error_message(exc)


# --- running ---------------------------------------------------------------------------------------


def _open_catalog(catalog_path: Path, spill_dir: Path) -> duckdb.DuckDBPyConnection:
    """Attach the catalog read-only to a fresh in-memory database.

    ``duckdb.connect(path)`` would share one database instance with every other open connection to
    the same file in this process: the sandbox settings below would lock that instance for them too,
    and the query would see the catalog as it was when they opened it rather than the current file.
    """
    if not catalog_path.is_file():
        raise QueryError(
            f"no catalog at {catalog_path}: it is written when the company's datasets are published"
        )
    con = duck.connect()
    try:
        # Spill files go to a private folder (the default is ./.tmp, which the sandbox would expose).
        con.execute("set temp_directory = $dir", {"dir": str(spill_dir)})
        con.execute(f"attach {quote_literal(str(catalog_path.absolute()))} as {CATALOG_ALIAS} (read_only)")
        con.execute(f"use {CATALOG_ALIAS}")
    except duckdb.Error as exc:
        con.close()
        raise QueryError(f"cannot open the catalog {catalog_path}: {_one_line(exc)}") from exc
    return con


def _sandbox(con: duckdb.DuckDBPyConnection, allowed_dirs: Sequence[str | Path]) -> None:
    dirs: list[str] = []
    for d in allowed_dirs:
        if str(d).startswith("s3://"):  # an object-storage prefix, taken as it is
            dirs.append(str(d))
            continue
        for variant in (Path(d).absolute(), Path(d).resolve()):
            if str(variant) not in dirs:
                dirs.append(str(variant))
    # The order matters: once external access is off, allowed_directories is what stays readable;
    # once the configuration is locked, the query cannot SET its way out.
    con.execute("set allowed_directories = $dirs", {"dirs": dirs})
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")


def _bind(
    names: set[str],
    params: Mapping[str, object] | Sequence[object] | None,
    optional: Collection[str] | None = None,
) -> dict[str, object] | list[object] | None:
    positional = any(name.isdigit() for name in names)
    takes = ", ".join(f"${n}" for n in sorted(names)) if names and not positional else "none"
    if isinstance(params, Mapping):
        if positional:
            raise QueryParameterError(
                "the query has positional parameters (? or $1); give the values as a list"
            )
        unknown = sorted(set(params) - names)
        if unknown:
            raise QueryParameterError(f"unknown parameter(s) {', '.join(unknown)}: the query takes {takes}")
        _check_bound(names, set(params), optional)
        return {name: params.get(name) for name in names}
    if isinstance(params, str | bytes):
        raise QueryParameterError("parameters must be a mapping or a list of values, not a string")
    if params is not None:
        return list(params)
    if positional:
        raise QueryParameterError(
            f"the query has {len(names)} positional parameter(s) (?) but no values were given"
        )
    _check_bound(names, set(), optional)
    return dict.fromkeys(names) if names else None


def _check_bound(names: set[str], given: set[str], optional: Collection[str] | None) -> None:
    """Refuse ``$name`` parameters left without a value that are not optional (None: all are)."""
    if optional is None:
        return
    unbound = sorted(names - given - set(optional))
    if unbound:
        raise QueryParameterError(
            f"no value for parameter(s) {', '.join(f'${n}' for n in unbound)}: give "
            + " ".join(f"--param {n}=VALUE" for n in unbound)
            + " (a saved query declares the parameters it can do without in its header: Params (optional))"
        )
