"""``lakehouse events``: the events index."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from lakehouse.cli.errors import catch_errors
from lakehouse.cli.options import FROM_CONFIG, CompanyOpt, OutputOpt, require_company, require_known
from lakehouse.cli.output import OutputFormat, emit, note_cut, print_json
from lakehouse.config import load_config
from lakehouse.config.models import EVENT_TYPES
from lakehouse.names import validate_slug
from lakehouse.runtime import open_store
from lakehouse.settings import get_settings

events_app = typer.Typer(help="The events index (detected by `lakehouse build`).", no_args_is_help=True)


class EventStatus(StrEnum):
    active = "active"
    resolved = "resolved"
    archived = "archived"


@events_app.command("list")
@catch_errors
def events_list_command(
    company: CompanyOpt = FROM_CONFIG,
    status: Annotated[EventStatus | None, typer.Option(help="Only events with this status.")] = None,
    event_type: Annotated[
        str | None,
        typer.Option("--type", help="Only this event type (one of config/events/*.json)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, metavar="N", help="Show at most N events.")] = 100,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """List events from the events index, oldest first by type (a line on stderr says when --limit cuts)."""
    validate_slug("company", company)
    with open_store() as store:
        require_company(store.dal, company)
        statuses = [status.value] if status else [s.value for s in EventStatus]
        counts = [store.dal.count_events_by_type(company, s) for s in statuses]
        present = {t for by_type in counts for t in by_type}
        require_known("event type", event_type, _configured_event_types() | present)
        total = sum(n for by_type in counts for t, n in by_type.items() if event_type in (None, t))
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
        note_cut(len(rows), total, "events")
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
    note_cut(len(rows), total, "events")


def _configured_event_types() -> set[str]:
    """The event types of config/events/*.json (every known one when the config cannot be read)."""
    try:
        return {rule.event_type for rule in load_config(get_settings().config_dir).events}
    except Exception:  # listing events needs no config: fall back to the types the code knows
        return set(EVENT_TYPES)
