"""``lakehouse events``: the events index."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from lakehouse.cli.errors import catch_errors
from lakehouse.cli.options import CompanyOpt, OutputOpt
from lakehouse.cli.output import OutputFormat, emit, print_json
from lakehouse.dataplane.zones import validate_slug
from lakehouse.runtime import open_store

events_app = typer.Typer(help="The events index (detected by `lakehouse build`).", no_args_is_help=True)


class EventStatus(StrEnum):
    active = "active"
    resolved = "resolved"
    archived = "archived"


@events_app.command("list")
@catch_errors
def events_list_command(
    company: CompanyOpt,
    status: Annotated[EventStatus | None, typer.Option(help="Only events with this status.")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="Only this event type.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """List events from the events index, oldest first by type."""
    validate_slug("company", company)
    with open_store() as store:
        events = store.dal.list_events(company, status.value if status else None, event_type, limit)
    rows = [
        {
            "event_id": e.event_id,
            "type": e.event_type,
            "entity": f"{e.entity_type}:{e.entity_id}",
            "severity": e.severity,
            "status": e.status,
            "first_seen_at": e.first_seen_at,
            "last_seen_at": e.last_seen_at,
            "details": e.details,
        }
        for e in events
    ]
    if output == OutputFormat.json:
        print_json(rows)
        return
    emit(
        OutputFormat.text,
        f"events of {company}",
        [
            r
            | {
                "first_seen_at": f"{r['first_seen_at']:%Y-%m-%d %H:%M:%S}",
                "last_seen_at": f"{r['last_seen_at']:%Y-%m-%d %H:%M:%S}",
            }
            for r in rows
        ],
        ["type", "entity", "severity", "status", "first_seen_at", "last_seen_at"],
    )
