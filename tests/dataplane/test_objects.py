"""The object store under the data root (lakehouse.dataplane.objects) on a local folder and on the
local S3 server: create-only writes, listing, deletes, streamed checksums; and DuckDB reading and
writing ``s3://`` objects through httpfs with a temporary secret made from the AWS variables."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from lakehouse.dataplane import objects as objects_module
from lakehouse.dataplane.objects import (
    LocalObjectStore,
    ObjectExistsError,
    ObjectMissingError,
    ObjectStore,
    S3ObjectStore,
)
from lakehouse.dataplane.s3 import S3Access, enable_s3, split_s3_uri
from lakehouse.errors import DataPlaneError, SettingsError
from tests.s3_server import TEST_KEY_ID, TEST_SECRET

KEY = "acme/silver/dataset=jobs/dt=2026-09-30/part-r1-0.parquet"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "root")
    env: dict[str, str] = request.getfixturevalue("s3_env")
    return S3ObjectStore(env["LAKEHOUSE_TEST_BUCKET"], "tenants/one", S3Access.from_env(env))


def test_an_object_reads_back_with_its_size_and_streamed_checksum(store: ObjectStore) -> None:
    data = b"x" * (3 << 20) + b"tail"  # several read chunks

    store.put_bytes(KEY, data)

    assert store.get_bytes(KEY) == data
    info = store.head(KEY)
    assert info is not None and (info.key, info.size) == (KEY, len(data))
    assert store.sha256(KEY) == "sha256:" + hashlib.sha256(data).hexdigest()


def test_a_create_only_write_never_replaces_an_object(store: ObjectStore, tmp_path: Path) -> None:
    store.put_bytes(KEY, b"first")
    local = tmp_path / "second.bin"
    local.write_bytes(b"second")

    with pytest.raises(ObjectExistsError, match="already exists"):
        store.put_bytes(KEY, b"other")
    with pytest.raises(ObjectExistsError):
        store.put_file(local, KEY)
    assert store.get_bytes(KEY) == b"first"

    store.put_file(local, KEY, if_absent=False)  # e.g. a version manifest rewritten before its commit
    assert store.get_bytes(KEY) == b"second"


def test_a_new_file_is_stored_when_its_block_ends_and_only_then(store: ObjectStore) -> None:
    with store.new_file(KEY) as local:
        local.write_bytes(b"parquet bytes")
        assert store.head(KEY) is None  # not before the block ends
    assert store.get_bytes(KEY) == b"parquet bytes"

    with pytest.raises(ObjectExistsError), store.new_file(KEY) as local:
        local.write_bytes(b"another writer")
    assert store.get_bytes(KEY) == b"parquet bytes"

    other = KEY.replace("part-r1-0", "part-r1-1")
    with pytest.raises(RuntimeError), store.new_file(other) as local:
        local.write_bytes(b"half")
        raise RuntimeError("the writer failed")
    assert store.head(other) is None
    assert [i.key for i in store.list("acme/")] == [KEY]  # no temporary file left behind


def test_a_listing_holds_the_keys_below_a_prefix_in_key_order(
    store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [
        "acme/bronze/dataset=jobs/dt=2026-09-29/part-a-0.parquet",
        "acme/bronze/dataset=jobs/dt=2026-09-30/part-b-0.parquet",
        "acme/bronze/dataset=jobsite/dt=2026-09-30/part-c-0.parquet",
        "acme/manifests/runs/r1.json",
        "beta/bronze/dataset=jobs/dt=2026-09-30/part-d-0.parquet",
    ]
    for key in reversed(keys):
        store.put_bytes(key, key.encode())

    assert [i.key for i in store.list("acme/bronze/dataset=jobs/")] == keys[:2]
    assert [i.key for i in store.list("acme/bronze/dataset=jobs")] == keys[:3]
    assert [i.key for i in store.list("")] == keys
    assert list(store.list("gamma/")) == []

    monkeypatch.setattr(objects_module, "_DELETE_BATCH", 2)  # S3 deletes in batches
    store.delete([*keys[:4], "acme/never-written.json"])
    assert [i.key for i in store.list("")] == keys[4:]
    assert store.head(keys[0]) is None


def test_a_missing_object_and_a_bad_key_are_named(store: ObjectStore) -> None:
    with pytest.raises(ObjectMissingError, match="acme/manifests/nope.json"):
        store.get_bytes("acme/manifests/nope.json")
    with pytest.raises(ObjectMissingError):
        store.sha256("acme/manifests/nope.json")
    for bad in ("", "../escape.json", "/etc/passwd", "acme//x", "acme/./x"):
        with pytest.raises(DataPlaneError, match="not a relative path"):
            store.put_bytes(bad, b"x")


@pytest.mark.s3
def test_duckdb_writes_and_reads_objects_through_httpfs(s3_env: dict[str, str]) -> None:
    access = S3Access.from_env(s3_env)
    store = S3ObjectStore(s3_env["LAKEHOUSE_TEST_BUCKET"], "", access)
    with duckdb.connect() as con:
        enable_s3(con, access)
        con.execute(
            f"COPY (SELECT range AS n FROM range(1000)) TO '{store.url(KEY)}' (FORMAT parquet, COMPRESSION zstd)"
        )
        total, files = con.execute(
            f"SELECT sum(n), count(DISTINCT filename) FROM read_parquet(['{store.url(KEY)}'], filename = true)"
        ).fetchone() or (None, None)

    assert (total, files) == (sum(range(1000)), 1)
    assert store.sha256(KEY) == "sha256:" + hashlib.sha256(store.get_bytes(KEY)).hexdigest()


@pytest.mark.s3
def test_a_catalog_file_keeps_its_views_but_never_the_secret(s3_env: dict[str, str], tmp_path: Path) -> None:
    access = S3Access.from_env(s3_env)
    store = S3ObjectStore(s3_env["LAKEHOUSE_TEST_BUCKET"], "p", access)
    catalog = tmp_path / "catalog.duckdb"
    with duckdb.connect(str(catalog)) as con:
        enable_s3(con, access)
        con.execute(f"COPY (SELECT 42 AS answer) TO '{store.url(KEY)}' (FORMAT parquet)")
        con.execute(f"CREATE VIEW jobs AS SELECT * FROM read_parquet('{store.url(KEY)}')")
        con.execute("CHECKPOINT")

    raw = catalog.read_bytes()
    assert TEST_SECRET.encode() not in raw and TEST_KEY_ID.encode() not in raw
    with duckdb.connect(str(catalog), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM duckdb_secrets()").fetchone() == (0,)
        enable_s3(con, access)  # what an analyst's session does first
        assert con.execute("SELECT answer FROM jobs").fetchall() == [(42,)]


@pytest.mark.s3
def test_a_failed_request_names_the_object_and_no_credential(s3_env: dict[str, str]) -> None:
    access = S3Access.from_env(s3_env)
    store = S3ObjectStore("no-such-bucket-here", "p", access)

    with pytest.raises(DataPlaneError) as failure:
        store.put_bytes(KEY, b"x")

    message = str(failure.value)
    assert "s3://no-such-bucket-here/p/acme/" in message
    assert TEST_SECRET not in message and TEST_KEY_ID not in message
    assert TEST_SECRET not in repr(access) and TEST_KEY_ID not in repr(access)


def test_s3_uris_and_the_aws_variables_are_checked() -> None:
    assert split_s3_uri("s3://lake-bucket/tenants/acme/") == ("lake-bucket", "tenants/acme")
    assert split_s3_uri("s3://lake-bucket") == ("lake-bucket", "")
    for bad in (
        "s3://Bad_Bucket/x",
        "s3://ok-bucket/a/../b",
        "s3://ok-bucket/a*",
        "file:///tmp/x",
        "s3:///x",
    ):
        with pytest.raises(SettingsError):
            split_s3_uri(bad)
    with pytest.raises(SettingsError, match="AWS_SECRET_ACCESS_KEY, AWS_REGION"):
        S3Access.from_env({"AWS_ACCESS_KEY_ID": "k"})
    with pytest.raises(SettingsError, match="AWS_ENDPOINT_URL"):
        S3Access.from_env(
            {
                "AWS_ACCESS_KEY_ID": "k",
                "AWS_SECRET_ACCESS_KEY": "s",
                "AWS_REGION": "r",
                "AWS_ENDPOINT_URL": "x:1",
            }
        )
    sql = S3Access("k'1", "s", "eu-west-1", "https://minio.local:9000").duckdb_secret_sql()
    assert "KEY_ID 'k''1'" in sql and "ENDPOINT 'minio.local:9000'" in sql and "USE_SSL true" in sql
