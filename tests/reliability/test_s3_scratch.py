"""gc on an S3 data root removes the upload folders a killed writer left in the worker's scratch.

Every object is written to ``<state_dir>/_scratch/lakehouse-upload-<pid>-<random>/`` before its
upload; a kill -9 during the write or the upload leaves that folder behind (the crash suite found
them after gc). gc removes the folders of processes that are gone, never one of a live process.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.dataplane.s3 import S3Access
from tests.reliability.conftest import _pg_create, _pg_drop
from tests.reliability.harness import COMPANY, Lakehouse, remove_bucket

pytestmark = [pytest.mark.s3, pytest.mark.postgres, pytest.mark.reliability, pytest.mark.integration]


@pytest.fixture
def s3_lakehouse(tmp_path: Path, s3_aws_env: dict[str, str], pg_server_url: str) -> Iterator[Lakehouse]:
    bucket, name = f"lakehouse-rel-{uuid.uuid4().hex[:12]}", f"lakehouse_rel_{uuid.uuid4().hex[:12]}"
    S3Access.from_env(s3_aws_env).boto3_client().create_bucket(Bucket=bucket)
    url = _pg_create(pg_server_url, name)
    env = s3_aws_env | {"LAKEHOUSE_STATE_DIR": str(tmp_path / "state")}
    try:
        yield Lakehouse(tmp_path / "home", f"s3://{bucket}/lake", url, extra_env=env)
    finally:
        _pg_drop(pg_server_url, name)
        remove_bucket(S3Access.from_env(s3_aws_env), bucket)


def test_gc_removes_the_upload_folders_of_dead_writers_only(s3_lakehouse: Lakehouse) -> None:
    lh = s3_lakehouse
    lh.ok("db", "upgrade")
    extract = lh.home / "extract"
    lh.ok("generate", "--company", COMPANY, "--out", str(extract), "--days", "1", "--scale", "0.05")
    lh.ok("ingest", "--company", COMPANY, str(extract))
    ended = subprocess.Popen(["true"])
    ended.wait()
    assert lh.state_dir is not None
    scratch = lh.state_dir / "_scratch"
    dead = scratch / f"lakehouse-upload-{ended.pid}-x1y2z3"
    live = scratch / f"lakehouse-upload-{os.getpid()}-a1b2c3"
    for folder in (dead, live):
        folder.mkdir(parents=True)
        (folder / "part-20261203T000000Z-deadbeef-00000.parquet").write_bytes(b"half written")

    gc = lh.ok("gc", "--company", COMPANY, "--output", "json")

    removed = json.loads(gc.stdout)["removed_files"]
    assert f"_scratch/{dead.name}/" in removed
    assert not dead.exists()
    assert live.is_dir() and f"_scratch/{live.name}/" not in removed
    assert lh.local_leftovers() == [f"_scratch/{live.name}"]
