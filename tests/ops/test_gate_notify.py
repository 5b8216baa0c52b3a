"""Review gates announced through a real webhook receiver, on SQLite and PostgreSQL: however many syncs
run at once (threads, or OS processes), a ready gate is announced once per head commit, with one
Idempotency-Key and one receipt; a 5xx answer is retried within the same sync under the same key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lakehouse.config import LakehouseConfig
from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import NotificationRecord, ReviewGateRecord
from lakehouse.ops.gates import GateSyncReport, ready_message, sync_gates
from lakehouse.ops.notify import Notifier, idempotency_key_for
from tests.data_fixtures import REPO
from tests.http_receiver import Receiver
from tests.ops.test_notify_support import FAST, URL_ENV, config_dir_with, load, webhook_only

GOOD = Path(__file__).resolve().parents[1] / "data" / "gates" / "good"
HEAD_1 = "1111111111111111111111111111111111111111"
HEAD_2 = "2222222222222222222222222222222222222222"
SENDERS = 20
PROCESSES = 4


def write_gate(folder: Path, head: str = HEAD_1, **checks: bool) -> Path:
    """Write T-1's gate file (strict, every check passed) into ``folder``, with ``head`` and ``checks``."""
    document = json.loads((GOOD / "T-1.json").read_text())
    document["head_commit"] = head
    document["checks"].update(checks)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "T-1.json"
    path.write_text(json.dumps(document))
    return path


def key_of(head: str) -> str:
    """The Idempotency-Key the webhook channel sends for T-1's ready message at ``head``."""
    return idempotency_key_for("slack", f"T-1:ready:{head}:ready")


def announcer(notifier: Notifier) -> Any:
    """What ``lakehouse gates sync`` announces with: the gate's ready message, through ``notifier``."""

    def announce(gate: ReviewGateRecord) -> list[NotificationRecord]:
        return notifier.send(ready_message(gate))

    return announce


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A gate folder holding one gate file: T-1, ready (strict, every check passed) at HEAD_1."""
    target = tmp_path / "gates"
    write_gate(target)
    return target


@pytest.fixture
def config(tmp_path: Path) -> LakehouseConfig:
    """The shipped config with the webhook channel only."""
    return load(tmp_path, webhook_only())


@pytest.fixture
def notifier(dal: DataAccessLayer, config: LakehouseConfig, tmp_path: Path, receiver: Receiver) -> Notifier:
    return Notifier.from_config(dal, config, tmp_path, env={URL_ENV: receiver.url}, policy=FAST)


def sync(dal: DataAccessLayer, folder: Path, notifier: Notifier) -> GateSyncReport:
    report = sync_gates(dal, folder, announcer(notifier))
    assert report.skipped == () and report.announce_errors == ()
    return report


# --- concurrent syncs ------------------------------------------------------------------------------


@pytest.fixture
def dals(db_url: str) -> Iterator[list[DataAccessLayer]]:
    """One control-plane connection per concurrent syncer, as separate processes would have."""
    layers = [DataAccessLayer.from_url(db_url) for _ in range(SENDERS)]
    yield layers
    for layer in layers:
        layer.close()


def test_twenty_concurrent_syncs_of_a_ready_gate_make_one_request_and_one_receipt(
    dal: DataAccessLayer,
    dals: list[DataAccessLayer],
    config: LakehouseConfig,
    folder: Path,
    tmp_path: Path,
    receiver: Receiver,
) -> None:
    receiver.delay = 0.2  # the winner is still sending while the others sync and try
    notifiers = [
        Notifier.from_config(d, config, tmp_path, env={URL_ENV: receiver.url}, policy=FAST) for d in dals
    ]
    start = threading.Barrier(SENDERS)

    def run(i: int) -> GateSyncReport:
        start.wait()
        return sync_gates(dals[i], folder, announcer(notifiers[i]))

    with ThreadPoolExecutor(SENDERS) as pool:
        reports = list(pool.map(run, range(SENDERS)))

    assert all(r.ready == ("T-1",) and r.skipped == () and r.announce_errors == () for r in reports)
    assert sorted(r.notified for r in reports) == [0] * (SENDERS - 1) + [1]
    [request] = receiver.requests
    assert request.status == 200 and not request.duplicate
    assert request.idempotency_key == key_of(HEAD_1) and receiver.deliveries == [key_of(HEAD_1)]
    assert request.body["text"].startswith("Task T-1: PR #11 in datahound/lakehouse (feat/t-1) is ready")
    [receipt] = dal.list_notifications()
    assert (receipt.task_id, receipt.message_type, receipt.status) == ("T-1", "ready", "sent")
    assert (receipt.attempts, receipt.idempotency_key, receipt.error) == (1, key_of(HEAD_1), None)
    assert receipt.payload == request.body
    gate = dal.get_review_gate("T-1")
    assert gate.ready and gate.head_commit == HEAD_1

    # syncing the same folder again afterwards sends nothing new
    again = sync(dal, folder, Notifier.from_config(dal, config, tmp_path, env={URL_ENV: receiver.url}))
    assert (again.changed, again.became_ready, again.ready, again.notified) == ((), (), ("T-1",), 0)
    assert len(receiver.requests) == 1 and len(dal.list_notifications()) == 1


#: One syncer process: argv = database URL, config dir, gate folder, ready file, go file. It says it is
#: ready (connected, notifier built), waits for the go file, syncs, and prints what it announced.
CHILD = """
import json, sys, time
from pathlib import Path
from lakehouse.config import load_config
from lakehouse.dal import DataAccessLayer
from lakehouse.ops.gates import ready_message, sync_gates
from lakehouse.ops.notify import Notifier
from lakehouse.ops.channels import SendPolicy

url, config_dir, folder, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5])
dal = DataAccessLayer.from_url(url)
policy = SendPolicy(timeout=5.0, tries=3, backoff=0.01, max_backoff=0.05)
notifier = Notifier.from_config(dal, load_config(config_dir), config_dir.parent, policy=policy)
ready.write_text("ready")
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.005)
receipts = []

def announce(gate):
    sent = notifier.send(ready_message(gate))
    receipts.extend(sent)
    return sent

report = sync_gates(dal, folder, announce)
print(json.dumps({
    "ready": list(report.ready),
    "errors": [list(e) for e in report.announce_errors],
    "receipts": [r.status for r in receipts],
}))
dal.close()
"""


def test_several_processes_syncing_a_ready_gate_make_one_request_and_one_receipt(
    db_url: str, dal: DataAccessLayer, folder: Path, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.delay = 0.2
    config_dir = config_dir_with(tmp_path, webhook_only())
    go = tmp_path / "go"
    readies = [tmp_path / f"ready-{i}" for i in range(PROCESSES)]
    environ = {**os.environ, "PYTHONPATH": str(REPO), URL_ENV: receiver.url}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, db_url, str(config_dir), str(folder), str(r), str(go)],
            env=environ,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in readies
    ]
    try:
        deadline = time.monotonic() + 60
        while not all(r.exists() for r in readies):
            assert time.monotonic() < deadline, "the syncer processes did not start"
            assert all(c.poll() is None for c in children), [c.communicate() for c in children]
            time.sleep(0.01)
        go.write_text("go")
        outputs = []
        for child in children:
            out, err = child.communicate(timeout=60)
            assert child.returncode == 0, err
            outputs.append(json.loads(out))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()

    assert all(o["ready"] == ["T-1"] and o["errors"] == [] for o in outputs)
    assert sorted(s for o in outputs for s in o["receipts"]) == ["sent"]
    assert receiver.keys() == [key_of(HEAD_1)] and receiver.deliveries == [key_of(HEAD_1)]
    [receipt] = dal.list_notifications()
    assert (receipt.status, receipt.attempts, receipt.idempotency_key) == ("sent", 1, key_of(HEAD_1))

    # syncing the same folder again afterwards sends nothing new
    notifier = Notifier.from_config(
        dal, load(tmp_path, webhook_only()), tmp_path, env={URL_ENV: receiver.url}, policy=FAST
    )
    again = sync(dal, folder, notifier)
    assert (again.ready, again.notified) == (("T-1",), 0)
    assert len(receiver.requests) == 1 and len(dal.list_notifications()) == 1


# --- a new head commit -----------------------------------------------------------------------------


def test_a_new_head_is_announced_once_when_it_becomes_ready(
    dal: DataAccessLayer, notifier: Notifier, folder: Path, receiver: Receiver
) -> None:
    first = sync(dal, folder, notifier)
    assert (first.became_ready, first.notified) == (("T-1",), 1)
    assert receiver.keys() == [key_of(HEAD_1)]
    assert sync(dal, folder, notifier).notified == 0
    assert len(receiver.requests) == 1

    # a new head whose checks have not passed yet: not ready, nothing sent
    write_gate(folder, HEAD_2, ci=False, gemini=False)
    pending = sync(dal, folder, notifier)
    assert (pending.changed, pending.became_ready, pending.ready, pending.notified) == (("T-1",), (), (), 0)
    gate = dal.get_review_gate("T-1")
    assert not gate.ready and gate.head_commit == HEAD_2
    assert len(receiver.requests) == 1

    # the new head passes: exactly one more request, under the new head's key
    write_gate(folder, HEAD_2)
    passed = sync(dal, folder, notifier)
    assert (passed.became_ready, passed.ready, passed.notified) == (("T-1",), ("T-1",), 1)
    assert receiver.keys() == [key_of(HEAD_1), key_of(HEAD_2)]
    assert key_of(HEAD_1) != key_of(HEAD_2)
    assert receiver.deliveries == [key_of(HEAD_1), key_of(HEAD_2)]
    assert HEAD_2[:12] in receiver.requests[1].body["text"]

    # ... and no more
    assert sync(dal, folder, notifier).notified == 0
    assert len(receiver.requests) == 2
    receipts = dal.list_notifications("T-1")
    assert [(r.status, r.idempotency_key) for r in receipts] == [
        ("sent", key_of(HEAD_1)),
        ("sent", key_of(HEAD_2)),
    ]


def test_the_same_head_passing_again_after_a_flaky_check_is_not_announced_again(
    dal: DataAccessLayer, notifier: Notifier, folder: Path, receiver: Receiver
) -> None:
    """One message per (task, head commit, state): a check that fails then passes again on the head
    already announced changes the gate but sends nothing."""
    assert sync(dal, folder, notifier).notified == 1
    write_gate(folder, HEAD_1, ci=False)
    assert sync(dal, folder, notifier).ready == ()
    write_gate(folder, HEAD_1)
    back = sync(dal, folder, notifier)
    assert (back.became_ready, back.ready, back.notified) == (("T-1",), ("T-1",), 0)
    assert receiver.keys() == [key_of(HEAD_1)]
    assert len(dal.list_notifications()) == 1


# --- a receiver that fails first -------------------------------------------------------------------


def test_a_500_then_200_is_one_delivery_within_one_sync_and_the_receipt_counts_both_requests(
    dal: DataAccessLayer, notifier: Notifier, folder: Path, receiver: Receiver
) -> None:
    receiver.statuses([500, 200])
    report = sync(dal, folder, notifier)
    assert report.notified == 1
    assert [(r.status, r.duplicate) for r in receiver.requests] == [(500, False), (200, False)]
    assert receiver.keys() == [key_of(HEAD_1)] * 2  # the retry carries the same key
    assert receiver.deliveries == [key_of(HEAD_1)]  # one accepted
    assert receiver.requests[0].body == receiver.requests[1].body
    [receipt] = dal.list_notifications()
    assert (receipt.status, receipt.attempts, receipt.error) == ("sent", 2, None)
    assert receipt.idempotency_key == key_of(HEAD_1) and receipt.provider_message_id == "msg-2"
    assert notifier.warnings == []

    assert sync(dal, folder, notifier).notified == 0
    assert len(receiver.requests) == 2


def test_a_receiver_failing_every_try_leaves_a_failed_receipt_that_the_next_sync_does_not_resend(
    dal: DataAccessLayer, notifier: Notifier, folder: Path, receiver: Receiver
) -> None:
    receiver.statuses([500] * FAST.tries)
    assert sync(dal, folder, notifier).notified == 0  # tried, not delivered
    assert [r.status for r in receiver.requests] == [500] * FAST.tries
    [receipt] = dal.list_notifications()
    assert (receipt.status, receipt.attempts) == ("failed", FAST.tries)
    assert receipt.error is not None and receipt.error.startswith("HTTP 500 from the webhook after 3")
    assert any(str(receipt.id) in w and "not delivered" in w for w in notifier.warnings)

    sync(dal, folder, notifier)  # a failure is sent again by `notify retry`, not by the next sync
    assert len(receiver.requests) == FAST.tries

    [delivered] = notifier.retry_failed().delivered
    assert (delivered.id, delivered.status, delivered.attempts) == (receipt.id, "sent", FAST.tries + 1)
    assert receiver.keys() == [key_of(HEAD_1)] * (FAST.tries + 1)
    assert receiver.deliveries == [key_of(HEAD_1)]
