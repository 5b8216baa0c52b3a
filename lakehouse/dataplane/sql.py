"""Quoting for the DuckDB SQL the data plane builds: identifiers, string literals, reader paths.

The one place where a name or a value is turned into SQL text. Everything else binds values with
``?`` where DuckDB allows it; what cannot be bound (a column name, a table name, a ``COPY ... TO``
target, the options of ``read_csv``) goes through these functions, never through an f-string quote.

* :func:`quote_identifier` — ``"name"``, inner ``"`` doubled: any text becomes one identifier.
* :func:`quote_literal` — ``'value'``, inner ``'`` doubled. DuckDB strings have no backslash
  escapes, so nothing else needs escaping; newlines and any unicode are kept as they are.
* :func:`reader_path` / :func:`quote_reader_path` — a file path that DuckDB's readers
  (``read_csv``, ``read_parquet``, ``read_text``) take literally rather than as a glob pattern.

NUL cannot be represented (DuckDB ends the text there), so both refuse it with
:class:`~lakehouse.errors.DataPlaneError` instead of quoting something shorter than asked; an empty
identifier is refused too (SQL has none).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Final

from lakehouse.errors import DataPlaneError

_GLOB_CHARS: Final = frozenset("*?[]{}")


def _refuse_nul(kind: str, text: str) -> None:
    if "\x00" in text:
        raise DataPlaneError(f"NUL character in SQL {kind} {text!r}: it cannot be quoted")


def quote_identifier(name: str) -> str:
    """Return ``name`` as one double-quoted SQL identifier.

    Args:
        name: any text (quotes, spaces, newlines and unicode included).

    Returns:
        ``"name"`` with every ``"`` doubled.

    Raises:
        DataPlaneError: ``name`` is not a string, is empty, or holds a NUL character.
    """
    if not isinstance(name, str):
        raise DataPlaneError(f"SQL identifier must be text, not {type(name).__name__} {name!r}")
    if not name:
        raise DataPlaneError("empty SQL identifier: SQL has no name of zero length")
    _refuse_nul("identifier", name)
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Return ``value`` as one single-quoted SQL string literal.

    Args:
        value: any text.

    Returns:
        ``'value'`` with every ``'`` doubled.

    Raises:
        DataPlaneError: ``value`` is not a string, or holds a NUL character.
    """
    if not isinstance(value, str):
        raise DataPlaneError(f"SQL string literal must be text, not {type(value).__name__} {value!r}")
    _refuse_nul("string value", value)
    return "'" + value.replace("'", "''") + "'"


def reader_path(path: PurePath | str) -> str:
    """Return ``path`` as a string DuckDB's readers take literally rather than as a glob pattern.

    DuckDB expands ``*``, ``?``, ``[...]`` and ``{...}`` in file names, so ``export[1].csv`` would
    read ``export1.csv``; each such character is wrapped in a one-character class (``[[]``). Bind
    the result as a parameter, or quote it with :func:`quote_reader_path`.
    """
    return "".join(f"[{char}]" if char in _GLOB_CHARS else char for char in str(path))


def duckdb_message(exc: BaseException) -> str:
    """A DuckDB error's message alone: its first line, without the SQL text DuckDB quotes after it
    (``LINE 1: SELECT ...``), which names our query rather than the user's problem."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def quote_reader_path(path: PurePath | str) -> str:
    """Return ``path`` as a string literal for a DuckDB reader (``read_parquet('...')``), glob-proof.

    Raises:
        DataPlaneError: the path holds a NUL character.
    """
    return quote_literal(reader_path(path))


__all__ = ["duckdb_message", "quote_identifier", "quote_literal", "quote_reader_path", "reader_path"]
