"""Zone layout: slugs, DataRoot paths and URIs, part file names."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import pytest

from lakehouse.dataplane.zones import ZONES, DataRoot, part_file_name
from lakehouse.errors import DataPlaneError, InvalidNameError, SettingsError
from lakehouse.names import validate_slug

RUN_ID = "20261130T054512Z-1a2b3c4d"


@pytest.fixture
def root(tmp_path: Path) -> DataRoot:
    return DataRoot(tmp_path / "data")


# --- slugs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["acme", "a", "0", "acme-hvac_2", "a" * 63, "9lives"])
def test_valid_slugs_are_returned_unchanged(name: str) -> None:
    assert validate_slug("company", name) == name


@pytest.mark.parametrize(
    "name",
    ["../x", "/etc", "", "Acme", "a b", "a.b", "a" * 64, "_x", "-x", "acme/jobs", "acme\n", "é", ".."],
)
def test_invalid_slugs_are_refused(name: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        validate_slug("dataset", name)
    assert info.value.kind == "dataset"
    assert info.value.value == name
    assert "invalid dataset name" in str(info.value)


@pytest.mark.parametrize("bad", ["../x", "/etc", "", "Acme"])
def test_layout_refuses_bad_names_before_touching_files(root: DataRoot, bad: str) -> None:
    with pytest.raises(InvalidNameError):
        root.partition_dir(bad, "bronze", "jobs", date(2026, 11, 30))
    with pytest.raises(InvalidNameError):
        root.dataset_dir("acme", "silver", bad)
    with pytest.raises(InvalidNameError):
        root.catalog_path(bad)
    assert not root.root.exists()


# --- DataRoot --------------------------------------------------------------------------------------


def test_layout_paths(root: DataRoot) -> None:
    base = root.root
    assert root.company_dir("acme") == base / "acme"
    assert root.zone_dir("acme", "silver") == base / "acme" / "silver"
    assert root.dataset_dir("acme", "gold", "revenue") == base / "acme" / "gold" / "dataset=revenue"
    assert (
        root.partition_dir("acme", "bronze", "jobs", date(2026, 11, 30))
        == base / "acme" / "bronze" / "dataset=jobs" / "dt=2026-11-30"
    )
    assert root.manifests_dir("acme") == base / "acme" / "manifests"
    assert root.rejects_dir("acme") == base / "acme" / "bronze" / "_rejects"
    assert root.control_dir() == base / "_control"
    assert root.catalog_path("acme") == base / "acme" / "catalog.duckdb"
    assert ZONES == ("bronze", "silver", "gold", "manifests")


def test_unknown_zone_and_datetime_partition_are_refused(root: DataRoot) -> None:
    with pytest.raises(DataPlaneError, match="unknown zone 'platinum'"):
        root.zone_dir("acme", "platinum")  # type: ignore[arg-type]
    with pytest.raises(DataPlaneError, match="must be a date"):
        root.partition_dir("acme", "bronze", "jobs", datetime(2026, 11, 30, 5, 45))


def test_from_uri_accepts_paths_and_file_uris(tmp_path: Path) -> None:
    assert DataRoot.from_uri(str(tmp_path)).root == tmp_path.resolve()
    assert DataRoot.from_uri(tmp_path.as_uri()).root == tmp_path.resolve()
    assert DataRoot.from_uri(f"file://localhost{tmp_path}").root == tmp_path.resolve()
    assert DataRoot.from_uri(tmp_path).root == tmp_path.resolve()
    spaced = tmp_path / "with space"
    assert DataRoot.from_uri(spaced.as_uri()).root == spaced.resolve()


def test_relative_root_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert DataRoot.from_uri("./data").root == (tmp_path / "data").resolve()


@pytest.mark.parametrize("uri", ["gs://bucket", "https://example.com/data", "az://c/d"])
def test_from_uri_refuses_other_object_stores(uri: str) -> None:
    with pytest.raises(DataPlaneError, match="not supported: use a local path, a file:// URI or s3://"):
        DataRoot.from_uri(uri)


def test_an_s3_uri_is_a_remote_root_with_a_local_state_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SettingsError, match="AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION"):
        DataRoot.from_uri("s3://lake-bucket/prod")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")

    root = DataRoot.from_uri("s3://lake-bucket/prod/", state_dir=tmp_path / "state")

    assert root.is_remote and root.root == (tmp_path / "state").resolve()
    assert root.url("acme/manifests/runs/r1.json") == "s3://lake-bucket/prod/acme/manifests/runs/r1.json"
    assert root.zone_location("acme", "silver") == "s3://lake-bucket/prod/acme/silver/"
    assert not DataRoot.from_uri(str(tmp_path / "data")).is_remote


def test_from_uri_refuses_empty_and_remote_file_uris() -> None:
    with pytest.raises(DataPlaneError, match="empty"):
        DataRoot.from_uri("  ")
    with pytest.raises(DataPlaneError, match="names host"):
        DataRoot.from_uri("file://otherhost/data")


def test_uri_forms(root: DataRoot) -> None:
    partition = root.partition_dir("acme", "bronze", "jobs", date(2026, 11, 30))
    assert root.uri() == root.root.as_uri()
    assert root.uri(partition) == partition.as_uri()
    assert root.uri("acme/bronze") == (root.root / "acme" / "bronze").as_uri()
    assert root.uri().startswith("file:///")
    with pytest.raises(DataPlaneError):
        root.uri(Path("/etc/passwd"))


def test_relative_and_resolve_round_trip(root: DataRoot) -> None:
    path = root.partition_dir("acme", "bronze", "jobs", date(2026, 11, 30)) / part_file_name(RUN_ID, 0)
    rel = root.relative(path)
    assert rel == f"acme/bronze/dataset=jobs/dt=2026-11-30/part-{RUN_ID}-00000.parquet"
    assert root.resolve(rel) == path


def test_relative_refuses_paths_outside_the_root(root: DataRoot, tmp_path: Path) -> None:
    with pytest.raises(DataPlaneError, match="outside the data root"):
        root.relative(tmp_path / "elsewhere" / "file.parquet")
    with pytest.raises(DataPlaneError, match="outside the data root"):
        root.relative(root.root / ".." / "x")
    with pytest.raises(DataPlaneError, match="root itself"):
        root.relative(root.root)


@pytest.mark.parametrize(
    "relative", ["../x", "/etc/passwd", "acme/../../x", "", "acme/..", "acme\\..\\x", "acme/\x00"]
)
def test_resolve_refuses_escape(root: DataRoot, relative: str) -> None:
    with pytest.raises(DataPlaneError):
        root.resolve(relative)


def test_resolve_refuses_symlink_escape(root: DataRoot, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root.root.mkdir(parents=True)
    os.symlink(outside, root.root / "acme")
    with pytest.raises(DataPlaneError, match="outside the data root"):
        root.resolve("acme/bronze")


def test_root_reached_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    os.symlink(real, link)
    root = DataRoot(link)
    assert root.root == real
    assert root.relative(link / "acme" / "catalog.duckdb") == "acme/catalog.duckdb"


# --- part files ------------------------------------------------------------------------------------


def test_part_file_name() -> None:
    assert part_file_name(RUN_ID, 3) == f"part-{RUN_ID}-00003.parquet"
    assert part_file_name("r", 123456) == "part-r-123456.parquet"
    names = [part_file_name(RUN_ID, i) for i in (10, 2, 1)]
    assert sorted(names) == [part_file_name(RUN_ID, i) for i in (1, 2, 10)]


@pytest.mark.parametrize("run_id", ["", "a/b", "a.b", "../x", "a b", "x" * 129])
def test_part_file_name_refuses_bad_run_ids(run_id: str) -> None:
    with pytest.raises(DataPlaneError, match="invalid run id"):
        part_file_name(run_id, 0)


@pytest.mark.parametrize("index", [-1, True, 1.0])
def test_part_file_name_refuses_bad_indexes(index: object) -> None:
    with pytest.raises(DataPlaneError, match="invalid part file index"):
        part_file_name(RUN_ID, index)  # type: ignore[arg-type]
