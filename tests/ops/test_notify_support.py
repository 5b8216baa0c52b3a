"""Helpers of the notification tests (no tests here): a config directory with chosen channels, a fast send policy."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from lakehouse.config import LakehouseConfig, load_config
from lakehouse.dal import DataAccessLayer
from lakehouse.ops.channels import SendPolicy
from lakehouse.ops.notify import Message, Notifier
from tests.data_fixtures import REPO

FAST = SendPolicy(timeout=5.0, tries=3, backoff=0.01, max_backoff=0.05, claim_ttl=timedelta(minutes=5))
"""Real retries, short waits."""

URL_ENV = "TEST_NOTIFY_WEBHOOK_URL"


def config_dir_with(tmp_path: Path, notifications: dict[str, Any]) -> Path:
    """A copy of the shipped config under ``tmp_path/config`` whose ``notifications`` is replaced."""
    target = tmp_path / "config"
    if not target.exists():
        shutil.copytree(REPO / "config", target)
    path = target / "global.json"
    data = json.loads(path.read_text())
    data["notifications"] = notifications
    path.write_text(json.dumps(data, indent=2))
    return target


def webhook_only(min_severity: str = "high", channel: str | None = "#ops-alerts") -> dict[str, Any]:
    slack: dict[str, Any] = {"enabled": True, "url_env": URL_ENV, "min_severity": min_severity}
    if channel is not None:
        slack["channel"] = channel
    return {"slack": slack}


def file_only(path: str = "data/_notifications/notifications.jsonl", **more: Any) -> dict[str, Any]:
    return {"file": {"enabled": True, "path": path, **more}}


def load(tmp_path: Path, notifications: dict[str, Any]) -> LakehouseConfig:
    return load_config(config_dir_with(tmp_path, notifications))


def webhook_notifier(
    dal: DataAccessLayer, tmp_path: Path, url: str, policy: SendPolicy = FAST, **slack: Any
) -> Notifier:
    config = load(tmp_path, webhook_only(**slack))
    return Notifier.from_config(dal, config, tmp_path, env={URL_ENV: url}, policy=policy)


def ready(task: str = "task-7", head: str = "abc123") -> Message:
    return Message(task, "ready", f"{head}:ready", f"Task {task}: PR ready <merge> & ship", {"head": head})


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
