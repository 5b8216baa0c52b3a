"""Saved analyst queries: ``queries/<name>.sql``, one statement per file.

A saved query starts with a comment header; its first comment line is the description shown by
:func:`list_saved_queries`, the following lines document the parameters::

    -- Invoiced and collected revenue per month and business unit.
    --
    -- Params (all optional):
    --   $since  first month to include, e.g. 2024-01-01 (default: every month)

Parameters are ``$name`` placeholders, bound at run time (see :mod:`lakehouse.query.sandbox`).
``lakehouse query`` refuses to run a query with a parameter left without a value unless the header
declares it optional (:func:`optional_parameters`): listed under a ``Params (optional)`` heading, or
on a line of its own that says ``optional`` or gives a ``default``; those are bound as NULL.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from lakehouse.errors import QueryError
from lakehouse.query.sandbox import query_parameters

logger = logging.getLogger(__name__)

SAVED_QUERY_SUFFIX = ".sql"
AD_HOC_NAME = "adhoc"
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
_PARAMS_HEADING_RE = re.compile(r"^params\b", re.IGNORECASE)
_PARAM_LINE_RE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)\b(.*)$")


class SavedQuery(BaseModel):
    """One saved query file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="File name without .sql; what `lakehouse query NAME` runs.")
    path: Path = Field(description="The .sql file.")
    description: str = Field(description="First comment line of the file, '' when there is none.")
    params: tuple[str, ...] = Field(description="Names of the $name parameters the query takes, sorted.")
    optional: tuple[str, ...] = Field(
        default=(), description="Those its header declares optional (bound as NULL when not given), sorted."
    )


def list_saved_queries(queries_dir: Path) -> list[SavedQuery]:
    """List the saved queries of ``queries_dir``, sorted by name (empty when the folder is missing).

    Raises:
        QueryError: a query file cannot be read.
    """
    queries_dir = Path(queries_dir)
    if not queries_dir.is_dir():
        return []
    result = []
    for path in sorted(queries_dir.glob(f"*{SAVED_QUERY_SUFFIX}")):
        if not path.is_file() or not _NAME_RE.match(path.stem):
            continue
        sql = _read(path)
        result.append(
            SavedQuery(
                name=path.stem,
                path=path,
                description=_description(sql),
                params=query_parameters(sql),
                optional=optional_parameters(sql),
            )
        )
    return result


def resolve_query(arg: str, queries_dir: Path) -> tuple[str, str]:
    """Turn the query argument of the CLI into ``(name, sql)``.

    ``arg`` is a saved query when it ends with ``.sql`` (a path, or a file name looked up in
    ``queries_dir``, e.g. ``queries/top_customers.sql``) or is a bare name such as ``top_customers``;
    anything else is SQL text, returned with the name ``adhoc``.

    Args:
        arg: saved-query name, ``.sql`` path, or SQL text.
        queries_dir: the folder of saved queries.

    Returns:
        The query's name and its SQL text.

    Raises:
        QueryError: a saved query named by ``arg`` does not exist (the message lists the available
            ones), or its file cannot be read.
    """
    queries_dir = Path(queries_dir)
    text = arg.strip()
    if text.endswith(SAVED_QUERY_SUFFIX) and "\n" not in text:
        path = Path(text)
        candidates = [path]
        if path.parent in (Path("."), Path(queries_dir.name), queries_dir):
            candidates.append(queries_dir / path.name)
        for candidate in candidates:
            if candidate.is_file():
                return candidate.stem, _read(candidate)
        raise QueryError(_missing_message(text, queries_dir))
    # A bare word is never a useful read statement, so treat it as a name and report a typo as one.
    if _NAME_RE.match(text):
        path = queries_dir / f"{text}{SAVED_QUERY_SUFFIX}"
        if path.is_file():
            return text, _read(path)
        raise QueryError(_missing_message(text, queries_dir))
    return AD_HOC_NAME, arg


def optional_parameters(sql: str) -> tuple[str, ...]:
    """The ``$name`` parameters the leading comment header of ``sql`` declares optional, sorted.

    A parameter line (``--   $since  first month ...``) declares it optional when it follows a
    ``Params`` heading that says ``optional`` (``-- Params (optional):``, ``-- Params (all optional):``),
    or when the line itself says ``optional`` or gives a ``default``. SQL without such a header
    declares none: each of its parameters needs a value.
    """
    optional: set[str] = set()
    section_optional = False
    for line in sql.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break  # the header ends at the first line of SQL
        comment = stripped.lstrip("-").strip()
        if _PARAMS_HEADING_RE.match(comment):
            section_optional = "optional" in comment.lower()
            continue
        param = _PARAM_LINE_RE.match(comment)
        if param is None:
            continue
        described = param.group(2).lower()
        if section_optional or "optional" in described or "default" in described:
            optional.add(param.group(1))
    return tuple(sorted(optional))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QueryError(f"cannot read saved query {path}: {exc}") from exc


def _description(sql: str) -> str:
    for line in sql.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            return ""
        comment = stripped.lstrip("-").strip()
        if comment:
            return comment
    return ""


def _missing_message(arg: str, queries_dir: Path) -> str:
    names = [q.name for q in list_saved_queries(queries_dir)]
    available = ", ".join(names) if names else "none"
    return f"no saved query {arg!r} in {queries_dir}; available: {available}"
