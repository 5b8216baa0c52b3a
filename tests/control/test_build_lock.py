"""The per-company build lock: exclusive, released at once when its holder dies, never taken over."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine

import lakehouse.db.company_lock as build_lock
from lakehouse.dal import DataAccessLayer
from lakehouse.db.company_lock import company_lock
from lakehouse.db.locks import FcntlFileLock, ProcessLocalLock, lock_file_name, lock_key, named_lock
from lakehouse.errors import LockBusyError
from tests.data_fixtures import REPO

LOCK = "build:acme"

_HOLDER = """
import sys, time
from lakehouse.dal import DataAccessLayer
from lakehouse.db.company_lock import company_lock

dal = DataAccessLayer.from_url(sys.argv[1])
run_id = dal.start_pipeline_run("acme", "dbt_build")
with company_lock(dal, sys.argv[2], run_id):
    print(run_id, flush=True)
    time.sleep(600)
"""


@contextmanager
def lock_held_by_child(db_url: str, name: str = LOCK) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A child process that holds lock ``name`` (for a run it started) until it is killed."""
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    )
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_HOLDER), db_url, name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        assert run_id, child.communicate(timeout=30)
        yield child, run_id
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=30)


def test_the_lock_is_exclusive_names_its_holder_and_is_released(dal: DataAccessLayer) -> None:
    holder = dal.start_pipeline_run("acme", "dbt_build")
    with company_lock(dal, LOCK, holder):
        assert dal.idempotency_claim_of("lock", LOCK) == holder  # the readable "who holds it"
        where = f"on host {socket.gethostname()} pid {os.getpid()} since "
        with pytest.raises(LockBusyError, match=f"held by run {holder} {where}.* UTC.*--wait"):
            with company_lock(dal, LOCK, "second"):
                pass
        with company_lock(dal, "build:other", "third"):  # another company builds meanwhile
            pass
    assert dal.idempotency_claim_of("lock", LOCK) is None
    with company_lock(dal, LOCK, "second"):
        assert dal.idempotency_claim_of("lock", LOCK) == "second"


def test_a_waiting_caller_is_told_who_holds_the_lock(
    dal: DataAccessLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_lock, "POLL_SECONDS", 0.05)
    told: list[str] = []
    started = time.monotonic()
    with company_lock(dal, LOCK, "first"), pytest.raises(LockBusyError, match="held by run first"):
        with company_lock(dal, LOCK, "second", wait_seconds=0.3, on_wait=told.append):
            pass
    assert time.monotonic() - started >= 0.3
    assert told == ["waiting for build:acme: held by run first"]


def test_an_alive_holder_is_never_taken_over_even_when_its_run_has_finished(dal: DataAccessLayer) -> None:
    # A build's run finishes, then its transcript extraction runs under the same lock.
    build = dal.start_pipeline_run("acme", "dbt_build")
    with company_lock(dal, LOCK, build):
        dal.finish_pipeline_run(build, "success")
        with pytest.raises(LockBusyError, match=f"held by run {build}"):
            with company_lock(dal, LOCK, "waiter"):
                pass
        # The lease row only says who holds the lock: without it the lock is still held.
        dal.release_idempotency_key("lock", LOCK)
        with pytest.raises(LockBusyError):
            with company_lock(dal, LOCK, "waiter"):
                pass


def test_a_lock_held_by_a_killed_process_is_free_at_once(
    dal: DataAccessLayer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_lock, "POLL_SECONDS", 0.05)
    with lock_held_by_child(db_url) as (child, run_id):
        with pytest.raises(LockBusyError, match=f"held by run {run_id} on host .* pid {child.pid} since"):
            with company_lock(dal, LOCK, "next"):
                pass
        dal.finish_pipeline_run(run_id, "success")  # its run finished, the process still holds the lock
        with pytest.raises(LockBusyError, match=f"held by run {run_id}"):
            with company_lock(dal, LOCK, "next", wait_seconds=0.2):
                pass
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        started = time.monotonic()
        # The waiter gets the lock as soon as the server or the kernel has dropped it.
        with company_lock(dal, LOCK, "next", wait_seconds=10):
            waited = time.monotonic() - started
            assert dal.idempotency_claim_of("lock", LOCK) == "next"  # the dead holder's row is replaced
    assert waited < 2.0


def test_the_sqlite_lock_is_a_file_beside_the_database(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'control.db'}")
    lock = named_lock(engine, "build:Acme Co/../x")
    assert isinstance(lock, FcntlFileLock)
    assert lock.path.parent == tmp_path / "control.db.locks"
    assert lock.path.name.startswith("build_Acme_Co_.._x-") and lock.path.suffix == ".lock"
    assert lock.try_acquire()
    other = named_lock(engine, "build:Acme Co/../x")
    assert not other.try_acquire()  # flock: a second descriptor conflicts, in this process too
    lock.release()
    assert other.try_acquire()
    other.release()
    assert lock_file_name("build:a") != lock_file_name("build_a")


def test_an_in_memory_database_uses_a_lock_of_this_process() -> None:
    engine = create_engine("sqlite://")
    first, second = named_lock(engine, LOCK), named_lock(engine, LOCK)
    assert isinstance(first, ProcessLocalLock)
    assert first.try_acquire() and not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


def test_advisory_lock_keys_are_stable_64_bit_numbers() -> None:
    assert lock_key(LOCK) == lock_key(LOCK)
    assert lock_key(LOCK) != lock_key("build:other")
    assert -(2**63) <= lock_key(LOCK) < 2**63
