"""The per-company build lease: exclusive, renewed while held, taken over from a finished holder."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

import lakehouse.transform.build_lock as build_lock
from lakehouse.dal import DataAccessLayer
from lakehouse.db.models import IdempotencyKey
from lakehouse.errors import LockBusyError
from lakehouse.transform.build_lock import company_lock


def _expiry(dal: DataAccessLayer, name: str) -> object:
    with dal.session() as s:
        return s.scalars(select(IdempotencyKey.expires_at).where(IdempotencyKey.key == f"lock:{name}")).one()


def test_the_lease_is_exclusive_and_released(dal: DataAccessLayer) -> None:
    holder = dal.start_pipeline_run("acme", "dbt_build")
    with company_lock(dal, "build:acme", holder):
        with pytest.raises(LockBusyError, match=f"held by run {holder}.*--wait"):
            with company_lock(dal, "build:acme", "second"):
                pass
    with company_lock(dal, "build:acme", "second"):
        pass


def test_a_waiting_caller_is_told_who_holds_the_lease(
    dal: DataAccessLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_lock, "POLL_SECONDS", 0.05)
    told: list[str] = []
    with company_lock(dal, "build:acme", "first"), pytest.raises(LockBusyError):
        with company_lock(dal, "build:acme", "second", wait_seconds=0.2, on_wait=told.append):
            pass
    assert told == ["waiting for build:acme: held by run first"]


def test_a_lease_left_by_a_finished_run_is_taken_over(dal: DataAccessLayer) -> None:
    crashed = dal.start_pipeline_run("acme", "dbt_build")
    assert dal.claim_idempotency_key("lock", "build:acme", ttl=build_lock.LEASE, run_id=crashed)
    dal.finish_pipeline_run(crashed, "failed", error={"message": "killed"})
    with company_lock(dal, "build:acme", "next-run"):
        assert dal.idempotency_claim_of("lock", "build:acme") == "next-run"


def test_the_heartbeat_renews_the_lease(dal: DataAccessLayer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_lock, "HEARTBEAT_SECONDS", 0.05)
    with company_lock(dal, "build:acme", "busy-run"):
        first = _expiry(dal, "build:acme")
        time.sleep(0.3)
        assert _expiry(dal, "build:acme") > first  # type: ignore[operator]
