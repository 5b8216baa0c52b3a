"""Events index lifecycle through the DAL, on both backends."""

from __future__ import annotations

import time

import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import DetectedEvent


def _event(
    entity: str, event_type: str = "overdue_invoice", company: str = "acme", **details: object
) -> DetectedEvent:
    return DetectedEvent(
        event_id=f"{company}:{event_type}:{entity}",
        company=company,
        event_type=event_type,
        entity_type="invoice",
        entity_id=entity,
        severity="high",
        details=dict(details),
    )


def _by_id(dal: DataAccessLayer, company: str = "acme") -> dict[str, object]:
    return {e.event_id: e for e in dal.list_events(company)}


def test_new_events_are_active_with_equal_first_and_last_seen(dal: DataAccessLayer) -> None:
    assert dal.upsert_events_index([_event("i1", balance=10), _event("i2")], run_id="r1") == 2
    events = dal.list_events("acme")
    assert {e.status for e in events} == {"active"}
    assert all(e.first_seen_at == e.last_seen_at for e in events)
    assert events[0].source_file == "run:r1"


def test_known_event_keeps_first_seen_and_takes_new_details(dal: DataAccessLayer) -> None:
    dal.upsert_events_index([_event("i1", balance=10)])
    first = dal.list_events("acme")[0]
    time.sleep(0.01)
    dal.upsert_events_index([_event("i1", balance=25)])
    again = dal.list_events("acme")[0]
    assert again.first_seen_at == first.first_seen_at
    assert again.last_seen_at > first.last_seen_at
    assert again.details == {"balance": 25}


def test_resolve_missing_then_reactivate(dal: DataAccessLayer) -> None:
    dal.upsert_events_index([_event("i1"), _event("i2"), _event("i3")])
    dal.upsert_events_index([_event("c1", event_type="missed_call")])
    dal.upsert_events_index([_event("i9", company="beta")])
    resolved = dal.resolve_missing_events(["acme:overdue_invoice:i1"], "overdue_invoice", "acme")
    assert resolved == 2
    status = {e.event_id: e.status for e in dal.list_events("acme")}
    assert status == {
        "acme:overdue_invoice:i1": "active",
        "acme:overdue_invoice:i2": "resolved",
        "acme:overdue_invoice:i3": "resolved",
        "acme:missed_call:c1": "active",  # other type untouched
    }
    assert dal.list_events("beta")[0].status == "active"  # other company untouched
    # a second resolve finds nothing new to resolve
    assert dal.resolve_missing_events(["acme:overdue_invoice:i1"], "overdue_invoice", "acme") == 0

    first_seen = {e.event_id: e.first_seen_at for e in dal.list_events("acme")}
    dal.upsert_events_index([_event("i2")])
    back = {e.event_id: e for e in dal.list_events("acme")}["acme:overdue_invoice:i2"]
    assert back.status == "active"
    assert back.first_seen_at == first_seen["acme:overdue_invoice:i2"]
    assert dal.count_events_by_type("acme") == {"missed_call": 1, "overdue_invoice": 2}


def test_resolve_with_empty_current_set_resolves_all_of_that_type(dal: DataAccessLayer) -> None:
    dal.upsert_events_index([_event("i1"), _event("i2")])
    assert dal.resolve_missing_events([], "overdue_invoice", "acme") == 2


def test_upsert_is_batched_over_many_events(dal: DataAccessLayer) -> None:
    events = [_event(f"i{n}", n=n) for n in range(2500)]
    assert dal.upsert_events_index(events) == 2500
    assert dal.count_events_by_type("acme") == {"overdue_invoice": 2500}


@pytest.mark.slow
def test_resolve_missing_handles_a_million_current_ids(dal: DataAccessLayer) -> None:
    dal.upsert_events_index([_event(f"i{n}") for n in range(2000)])
    current = [f"acme:overdue_invoice:i{n}" for n in range(1_000_000) if n % 2 == 0]
    current += [f"acme:other:{n}" for n in range(500_000)]
    assert len(current) == 1_000_000
    assert dal.resolve_missing_events(current, "overdue_invoice", "acme") == 1000
    assert dal.count_events_by_type("acme") == {"overdue_invoice": 1000}
