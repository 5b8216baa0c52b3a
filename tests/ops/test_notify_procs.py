"""Notifications across processes: several processes send the same message (one request), and a
sender SIGKILLed between its claim and its receipt is recovered after the claim expires, with the same
Idempotency-Key, so the receiver sees one delivery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lakehouse.dal import DataAccessLayer
from lakehouse.ops.notify import FAULT_ENV, idempotency_key_for
from tests.data_fixtures import REPO
from tests.http_receiver import Receiver
from tests.ops.test_notify_support import (
    URL_ENV,
    config_dir_with,
    file_only,
    jsonl,
    ready,
    webhook_notifier,
    webhook_only,
)

#: One sender: argv = database URL, config dir, claim ttl (s), start time (epoch s). Prints its receipts.
CHILD = """
import json, sys, time
from datetime import timedelta
from pathlib import Path
from lakehouse.config import load_config
from lakehouse.dal import DataAccessLayer
from lakehouse.ops.channels import SendPolicy
from lakehouse.ops.notify import Notifier
from tests.ops.test_notify_support import ready

url, config_dir, ttl, start = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
dal = DataAccessLayer.from_url(url)
policy = SendPolicy(timeout=5.0, tries=3, backoff=0.01, claim_ttl=timedelta(seconds=ttl))
notifier = Notifier.from_config(dal, load_config(config_dir), config_dir.parent, policy=policy)
time.sleep(max(0.0, start - time.time()))
receipts = notifier.send(ready())
print(json.dumps([r.status for r in receipts]))
dal.close()
"""


def _spawn(db_url: str, config_dir: Path, ttl: float, start: float, **env: str) -> subprocess.Popen[str]:
    environ = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, db_url, str(config_dir), str(ttl), str(start)],
        env=environ,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_several_processes_sending_the_same_message_make_one_request(
    db_url: str, dal: DataAccessLayer, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.delay = 0.3
    config_dir = config_dir_with(tmp_path, webhook_only() | file_only())
    start = time.time() + 3.0  # every child has imported and connected by then
    children = [_spawn(db_url, config_dir, 60, start, **{URL_ENV: receiver.url}) for _ in range(6)]
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        outputs.append(json.loads(out))

    # One receipt per channel in all (each channel's key is claimed by one sender, maybe not the same).
    assert sorted(status for receipts in outputs for status in receipts) == ["sent", "sent"]
    assert len(receiver.requests) == 1 and len(receiver.deliveries) == 1
    assert len(jsonl(tmp_path / "data" / "_notifications" / "notifications.jsonl")) == 1
    assert sorted(r.channel for r in dal.list_notifications()) == ["file", "slack"]


def test_a_sender_killed_after_its_send_is_recovered_once_the_claim_expires(
    db_url: str, dal: DataAccessLayer, tmp_path: Path, receiver: Receiver
) -> None:
    ttl = 1.5
    config_dir = config_dir_with(tmp_path, webhook_only())
    child = _spawn(db_url, config_dir, ttl, 0, **{URL_ENV: receiver.url, FAULT_ENV: "after_send"})
    _, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, err
    message = ready()
    key = idempotency_key_for("slack", message.key)
    assert receiver.keys() == [key] and len(receiver.deliveries) == 1  # it did send...
    assert dal.list_notifications() == []  # ...and died before the receipt
    killed_at = time.monotonic()

    notifier = webhook_notifier(dal, tmp_path, receiver.url)
    assert notifier.send(message) == []  # the dead sender's claim still holds
    assert len(receiver.requests) == 1

    time.sleep(max(0.0, ttl + 0.2 - (time.monotonic() - killed_at)))
    [receipt] = notifier.send(message)
    assert receipt.status == "sent" and receipt.idempotency_key == key
    assert receiver.keys() == [key, key]  # sent again with the same key...
    assert [r.duplicate for r in receiver.requests] == [False, True]
    assert len(receiver.deliveries) == 1  # ...so the receiver delivered it once
    assert receipt.provider_message_id == "msg-1"  # the receiver's id of the first delivery
    assert notifier.send(message) == [] and len(receiver.requests) == 2


def test_a_file_sender_killed_after_its_write_leaves_one_line(
    db_url: str, dal: DataAccessLayer, tmp_path: Path
) -> None:
    config_dir = config_dir_with(tmp_path, file_only())
    child = _spawn(db_url, config_dir, 0.5, 0, **{FAULT_ENV: "after_send"})
    _, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, err
    log = tmp_path / "data" / "_notifications" / "notifications.jsonl"
    assert len(jsonl(log)) == 1 and dal.list_notifications() == []

    time.sleep(0.7)
    rerun = _spawn(db_url, config_dir, 0.5, 0)
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert json.loads(out) == ["sent"]
    [line] = jsonl(log)
    assert line["idempotency_key"] == idempotency_key_for("file", ready().key)
    assert [r.status for r in dal.list_notifications()] == ["sent"]
