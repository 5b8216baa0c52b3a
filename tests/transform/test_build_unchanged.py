"""A build with nothing new publishes nothing: same bronze input, as-of, dbt project and config as the
last build, whose versions are all current (see lakehouse/transform/build_fingerprint.py); a change to
any of them, or ``full_refresh``, builds again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.transform.build import BuildResult
from tests.build_fixtures import COMPANY, Lakehouse, make_lakehouse, one_backend

pytestmark = pytest.mark.slow


@pytest.fixture
def lake(tmp_path: Path, db_url: str) -> Iterator[Lakehouse]:
    lh = make_lakehouse(tmp_path, db_url, days=10)
    yield lh
    lh.dal.close()


def _current_tags(lake: Lakehouse) -> dict[tuple[str, str], str]:
    return {
        (zone, name): versions[0].version_tag
        for (zone, name), versions in lake.store.current_versions(COMPANY).items()
        if zone != "bronze"
    }


def _published(result: BuildResult) -> set[tuple[str, str]]:
    return {(v["zone"], v["dataset"]) for v in result.versions}


@one_backend("postgres")
def test_a_build_with_nothing_new_publishes_nothing_until_a_full_refresh(lake: Lakehouse) -> None:
    first = lake.builder().run(COMPANY)
    assert first.unchanged_since is None and ("gold", "revenue_by_month") in _published(first)
    current = _current_tags(lake)
    versions = len(lake.dal.list_dataset_versions(COMPANY))

    again = lake.builder().run(COMPANY)
    assert (again.unchanged_since, again.versions, again.as_of) == (first.run_id, [], first.as_of)
    assert again.extraction is None  # the profiles of the first build are current too
    assert _current_tags(lake) == current and len(lake.dal.list_dataset_versions(COMPANY)) == versions
    run = lake.dal.get_pipeline_run(again.run_id)
    assert run.status == "success"
    assert (run.input_manifest or {})["unchanged_since"] == first.run_id
    assert (run.output_manifest or {})["outputs"] == []
    # A third build points at the build that published, not at the one that did not.
    assert lake.builder().run(COMPANY).unchanged_since == first.run_id

    refreshed = lake.builder().run(COMPANY, full_refresh=True)
    assert refreshed.unchanged_since is None and _published(refreshed) == _published(first)
    assert lake.builder().run(COMPANY).unchanged_since == refreshed.run_id


@one_backend("sqlite")
def test_a_change_to_the_config_or_the_project_builds_again(lake: Lakehouse) -> None:
    first = lake.builder().run(COMPANY)
    lake.set_event_parameter("unsold_estimate", "min_total", 0.0)  # the event rules: dbt vars
    by_config = lake.builder().run(COMPANY)
    assert by_config.unchanged_since is None and by_config.versions

    model = lake.project_dir / "models" / "gold" / "revenue_by_month.sql"
    model.write_text(model.read_text() + "\n-- a reviewed comment\n")
    by_project = lake.builder().run(COMPANY)
    assert by_project.unchanged_since is None and by_project.versions
    assert len({first.run_id, by_config.run_id, by_project.run_id}) == 3
    assert _current_tags(lake)[("gold", "revenue_by_month")] == by_project.run_id


@one_backend("postgres")
def test_a_version_rebuilt_since_makes_the_next_build_run(lake: Lakehouse) -> None:
    first = lake.builder().run(COMPANY)
    # Another build of one model since (a --select build): the newest build is not the full one.
    lake.builder().run(COMPANY, select=["revenue_by_month"])
    after_select = lake.builder().run(COMPANY)
    assert after_select.unchanged_since is None and after_select.versions
    assert after_select.run_id != first.run_id
