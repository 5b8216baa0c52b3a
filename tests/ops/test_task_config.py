"""The arguments of scheduled tasks are checked when a task is added, naming the field at fault."""

from __future__ import annotations

from typing import Any

import pytest

from lakehouse.errors import TaskConfigError
from lakehouse.ops.task_config import (
    TASK_CONFIGS,
    TASK_TYPES,
    BuildTaskConfig,
    IngestTaskConfig,
    Retry,
    parse_task_config,
)


def test_every_task_type_has_a_model_and_defaults_where_it_can() -> None:
    assert set(TASK_CONFIGS) == set(TASK_TYPES)
    needs = {"ingest": {"drop_folder": "drops/acme"}, "gates_sync": {"gates_dir": "gates"}}
    for task_type in TASK_TYPES:
        config = parse_task_config(task_type, needs.get(task_type, {}))
        assert isinstance(config, TASK_CONFIGS[task_type])
        assert config.retry == Retry()


def test_a_full_config_is_read_with_its_values() -> None:
    config = parse_task_config(
        "ingest",
        {"drop_folder": "/srv/drops", "on_error": "quarantine", "encoding": "latin-1", "retry": {"count": 3}},
    )
    assert isinstance(config, IngestTaskConfig)
    assert (config.drop_folder, config.on_error, config.encoding) == ("/srv/drops", "quarantine", "latin-1")
    assert config.retry.count == 3 and [config.retry.delay(n) for n in (1, 2, 3)] == [60.0, 120.0, 240.0]
    build = parse_task_config("build", {"select": ["customer_360"], "wait_seconds": 600})
    assert isinstance(build, BuildTaskConfig) and build.select == ["customer_360"]


@pytest.mark.parametrize(
    ("task_type", "config", "message"),
    [
        ("rebuild", {}, "task_type: 'rebuild' is not a task type: use one of ingest, build, extract,"),
        (
            "build",
            {"selct": ["x"]},
            "config_json.selct: unknown key for a build task (it takes: allow_partial, full_refresh, retry, select, wait_seconds)",
        ),
        ("ingest", {}, "config_json.drop_folder: Field required"),
        (
            "ingest",
            {"drop_folder": "d", "on_error": "skip"},
            "config_json.on_error: Input should be 'abort' or 'quarantine'",
        ),
        (
            "build",
            {"retry": {"count": -1}},
            "config_json.retry.count: Input should be greater than or equal to 0",
        ),
        (
            "build",
            {"retry": {"count": 1, "backof": 5}},
            "config_json.retry.backof: unknown key in retry (it takes: backoff_seconds, count)",
        ),
        ("gc", {"keep": 0}, "config_json.keep: Input should be greater than or equal to 1"),
        ("extract", {"wait_seconds": "soon"}, "config_json.wait_seconds: Input should be a valid integer"),
    ],
)
def test_a_bad_config_is_refused_naming_the_field(
    task_type: str, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(TaskConfigError) as caught:
        parse_task_config(task_type, config)
    assert str(caught.value).startswith(message), str(caught.value)
    assert caught.value.exit_code == 2
