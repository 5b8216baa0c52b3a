"""A transaction whose first write is a savepoint (an insert that may conflict) stays one transaction:
on SQLite the driver used to begin it at the SAVEPOINT and commit it at the RELEASE, so a commit of
several dataset versions could publish the first and fail on the second."""

from __future__ import annotations

import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import DatasetVersionSpec, TaskSpec
from lakehouse.errors import AlreadyExistsError


def _spec(tag: str, dataset: str) -> DatasetVersionSpec:
    return DatasetVersionSpec(
        "acme", dataset, tag, "1", f"manifests/{tag}.json", 1, "sha256:x", "run-1", zone="silver"
    )


def test_a_commit_of_several_versions_that_fails_on_one_publishes_none(dal: DataAccessLayer) -> None:
    dal.register_dataset_version(_spec("v0", "orders"))

    with pytest.raises(AlreadyExistsError):
        dal.commit_dataset_versions([_spec("v1", "customers"), _spec("v0", "orders")])

    assert [(v.dataset_name, v.version_tag) for v in dal.list_dataset_versions("acme")] == [("orders", "v0")]


def test_a_unit_of_work_that_raises_after_a_savepoint_insert_leaves_nothing(dal: DataAccessLayer) -> None:
    with pytest.raises(RuntimeError), dal.transaction():
        dal.list_tasks()
        dal.create_task(TaskSpec("nightly", "build", "acme", "cron", "0 3 * * *"))
        raise RuntimeError("later step failed")

    assert dal.list_tasks() == []
