"""``DataAccessLayer.transaction()``: several DAL writes as one unit of work, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import DetectedEvent
from tests.build_fixtures import COMPANY, Lakehouse, make_lakehouse


def _event(entity: str) -> DetectedEvent:
    return DetectedEvent(
        f"acme:overdue_invoice:{entity}", "acme", "overdue_invoice", "invoice", entity, "high"
    )


def test_writes_in_a_transaction_commit_together_or_not_at_all(dal: DataAccessLayer) -> None:
    run_id = dal.start_pipeline_run("acme", "dbt_build")
    with pytest.raises(RuntimeError), dal.transaction():
        dal.upsert_events_index([_event("I1"), _event("I2")])
        dal.finish_pipeline_run(run_id, "success")
        with dal.transaction():  # re-entrant: the inner block does not commit on its own
            dal.resolve_missing_events(["acme:overdue_invoice:I1"], "overdue_invoice", "acme")
        raise RuntimeError("a later step failed")
    assert dal.list_events("acme") == []
    assert dal.get_pipeline_run(run_id).status == "running"

    with dal.transaction():
        dal.upsert_events_index([_event("I1"), _event("I2")])
        dal.resolve_missing_events(["acme:overdue_invoice:I1"], "overdue_invoice", "acme")
        dal.finish_pipeline_run(run_id, "success")
    assert {e.event_id: e.status for e in dal.list_events("acme")} == {
        "acme:overdue_invoice:I1": "active",
        "acme:overdue_invoice:I2": "resolved",
    }
    assert dal.get_pipeline_run(run_id).status == "success"


@pytest.fixture
def lake(tmp_path: Path, db_url: str) -> Iterator[Lakehouse]:
    lh = make_lakehouse(tmp_path, db_url)
    yield lh
    lh.dal.close()


@pytest.mark.slow
def test_a_build_that_fails_after_its_events_sync_leaves_the_events_index_alone(
    lake: Lakehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(company: str, manifest: dict[str, object]) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lake.store, "write_run_manifest", broken)
    with pytest.raises(OSError):
        lake.builder().run(COMPANY, extract=False)
    assert lake.dal.list_events(COMPANY) == []  # synced inside the transaction, rolled back with it
    [run] = lake.dal.list_pipeline_runs(COMPANY, "dbt_build")
    assert run.status == "failed"
