"""Renderers for commands that print data: ``--output text|json``.

JSON keeps numbers as numbers (a DECIMAL is an integer or a double, see
:func:`lakehouse.query.render.json_decimal`) and dates as ISO 8601 strings. A listing is a JSON
array of its rows; when ``--limit`` cuts it, a line on stderr says so, whatever the format
(:func:`note_cut`), so stdout stays the data alone.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from rich.console import Console
from rich.text import Text

from lakehouse.cli.errors import JsonPrinted, err_console

if TYPE_CHECKING:
    from rich.table import Table

    from lakehouse.db.records import DatasetVersionRecord, PipelineRunRecord

# Piped output keeps whole values (run ids) instead of rich's 80-column default. Values are printed
# literally: no rich markup ("[bold]") and no emoji codes (":x:") are interpreted in them.
console = Console(
    highlight=False,
    soft_wrap=True,
    markup=False,
    emoji=False,
    width=None if sys.stdout.isatty() else 240,
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        from lakehouse.query.render import json_decimal  # pyarrow: only for a decimal

        return json_decimal(value)
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"cannot render {type(value).__name__}")


def print_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (no rich markup, stable key order)."""
    JsonPrinted.done = True
    console.print(json.dumps(data, default=_default, indent=2, sort_keys=True), markup=False, emoji=False)


def note_cut(shown: int, total: int, what: str) -> None:
    """Say on stderr that a listing shows ``shown`` of its ``total`` rows (nothing when it shows all)."""
    if total > shown:
        err_console.print(
            f"showing {shown} of {total} {what} (--limit N shows more)", markup=False, emoji=False
        )


def print_rows(title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Print rows as a rich table (text output); titles and cells are literal text."""
    if not rows:
        console.print(f"{title}: none", markup=False, emoji=False)
        return
    console.print(rows_table(title, rows, columns))


def rows_table(title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> Table:
    """A rich table of ``rows`` whose title, headers and cells are :class:`~rich.text.Text` (never markup)."""
    from rich.table import Table

    cols = list(columns or (rows[0].keys() if rows else []))
    table = Table(title=Text(title), show_lines=False)
    for col in cols:
        table.add_column(Text(col))
    for row in rows:
        table.add_row(*(Text("" if row.get(c) is None else str(row.get(c))) for c in cols))
    return table


def emit(
    output: OutputFormat, title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> None:
    """Print rows as JSON or as a table."""
    if output == OutputFormat.json:
        print_json(list(rows))
    else:
        print_rows(title, rows, columns)


# --- one pipeline run, whole ---------------------------------------------------------------------

#: Output-manifest keys printed in sections of their own by :func:`print_run`.
_RUN_SECTIONS = ("format", "run_id", "company", "pipeline", "outputs", "nodes")


def run_document(run: PipelineRunRecord, versions: Sequence[DatasetVersionRecord]) -> dict[str, Any]:
    """A run as one JSON document: every field of its record, and the dataset versions it produced."""
    return {**asdict(run), "versions": [asdict(v) for v in versions]}


def print_run(
    run: PipelineRunRecord, versions: Sequence[DatasetVersionRecord], holder_alive: bool | None
) -> None:
    """Print one run whole (text): holder, error, inputs, outputs, versions, dbt nodes, other details.

    Args:
        holder_alive: whether the holder process is alive (None: not known, e.g. the run finished).
    """
    stage = f" ({run.stage})" if run.stage else ""
    _line(f"run {run.run_id}: {run.pipeline_name}{stage} of {run.company}")
    _field("status", run.status)
    _field("started", _when(run.started_at))
    if run.finished_at is not None:
        seconds = (run.finished_at - run.started_at).total_seconds()
        _field("finished", f"{_when(run.finished_at)} ({seconds:.1f} s)")
    _field("holder", _holder_text(run, holder_alive))
    error = dict(run.error or {})
    if error:
        kind = error.pop("type", None)
        message = error.pop("message", "")
        _field("error", f"{kind}: {message}" if kind else str(message))
        for key, value in error.items():
            _detail(key, value)
    manifest = dict(run.output_manifest or {})
    _mapping_section("inputs", run.input_manifest or {})
    outputs = [o for o in manifest.get("outputs", []) if isinstance(o, Mapping)]
    if outputs:
        _rows_section("outputs", [_output_row(o) for o in outputs])
        files = [
            {"dataset": f"{o.get('zone')}.{o.get('dataset')}", **f}
            for o in outputs
            for f in o.get("files", [])
            if isinstance(f, Mapping)
        ]
        _rows_section("output files", files)
    _rows_section(
        "versions",
        [
            {
                "zone": v.zone,
                "dataset": v.dataset_name,
                "version": v.version_tag,
                "schema_version": v.schema_version,
                "as_of": v.as_of,
                "rows": v.row_count,
                "status": v.status,
                "commit_seq": v.commit_seq,
                "created_at": _when(v.created_at),
            }
            for v in versions
        ],
    )
    nodes = [n for n in manifest.get("nodes", []) if isinstance(n, Mapping)]
    _rows_section("dbt nodes", nodes)
    _mapping_section("details", {k: v for k, v in manifest.items() if k not in _RUN_SECTIONS})


def _holder_text(run: PipelineRunRecord, alive: bool | None) -> str:
    if run.holder_host is None or run.holder_pid is None:
        return "not recorded"
    text = f"host {run.holder_host} pid {run.holder_pid}"
    if run.heartbeat_at is not None:
        text += f", last heartbeat {_when(run.heartbeat_at)}"
    if alive is not None:
        text += ", alive" if alive else ", gone"
    return text


def _output_row(output: Mapping[str, Any]) -> dict[str, Any]:
    files = [f for f in output.get("files", []) if isinstance(f, Mapping)]
    row = {k: v for k, v in output.items() if k != "files"}
    return row | {"files": len(files), "rows": sum(int(f.get("row_count") or 0) for f in files)}


def _mapping_section(title: str, mapping: Mapping[str, Any]) -> None:
    if not mapping:
        return
    _line(title)
    for key, value in mapping.items():
        if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            _rows_section(f"{title}: {key}", value)
        else:
            _detail(key, value)


def _rows_section(title: str, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    flat = [{c: _scalar(row.get(c)) if row.get(c) is not None else None for c in columns} for row in rows]
    console.print(rows_table(title, flat, list(columns)))


def _scalar(value: Any) -> str:
    """A value on one line: lists of plain values joined, other structures as compact JSON."""
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, Mapping | list):
        return json.dumps(value, default=_default, sort_keys=True)
    if isinstance(value, datetime):
        return _when(value)
    return str(value)


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _field(name: str, value: str) -> None:
    console.print(Text(f"{name:<10} {value}"))


def _detail(key: str, value: Any) -> None:
    console.print(Text(f"  {key}: {_scalar(value)}"))


def _line(text: str) -> None:
    console.print(Text(text))
