"""`lakehouse config validate` (the typer app in lakehouse.cli.config_cmd, invoked directly)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse.cli.config_cmd import app
from lakehouse.settings import get_settings

SHIPPED = Path(__file__).resolve().parents[1] / "config"

runner = CliRunner()


@pytest.fixture
def cfg_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(SHIPPED, target)
    return target


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _break_two_files(cfg_dir: Path) -> None:
    rule = cfg_dir / "events" / "unsold_estimate.json"
    data = json.loads(rule.read_text())
    data["parameters"]["min_age_days"] = -3
    rule.write_text(json.dumps(data))
    (cfg_dir / "global.json").write_text('{"schema_version": "1",')


def test_validate_ok(cfg_dir: Path) -> None:
    result = runner.invoke(app, ["validate", "--config-dir", str(cfg_dir)])
    assert result.exit_code == 0, result.output
    assert result.output == "OK: 6 files valid\n"


def test_validate_prints_every_problem_and_exits_1(cfg_dir: Path) -> None:
    _break_two_files(cfg_dir)
    result = runner.invoke(app, ["validate", "--config-dir", str(cfg_dir)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{cfg_dir / 'global.json'}: line 1, column 24: invalid JSON: Expecting property name enclosed in double quotes",
        f"{cfg_dir / 'events' / 'unsold_estimate.json'}: parameters.min_age_days: "
        "Input should be greater than or equal to 0",
    ]


def test_validate_json_output(cfg_dir: Path) -> None:
    ok = runner.invoke(app, ["validate", "--config-dir", str(cfg_dir), "--output", "json"])
    assert ok.exit_code == 0
    assert json.loads(ok.output) == {"config_dir": str(cfg_dir), "ok": True, "files": 6, "problems": []}

    _break_two_files(cfg_dir)
    bad = runner.invoke(app, ["validate", "--config-dir", str(cfg_dir), "--output", "json"])
    assert bad.exit_code == 1
    report = json.loads(bad.output)
    assert report["ok"] is False
    assert [(Path(p["file"]).name, p["location"]) for p in report["problems"]] == [
        ("global.json", "line 1, column 24"),
        ("unsold_estimate.json", "parameters.min_age_days"),
    ]


def test_validate_missing_directory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--config-dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "config directory not found" in result.output


def test_validate_defaults_to_the_settings_config_dir(
    cfg_dir: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    (cfg_dir / "events" / "missed_call.json").unlink()
    monkeypatch.setenv("LAKEHOUSE_CONFIG_DIR", str(cfg_dir))
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.output == "OK: 5 files valid\n"


def test_validate_rejects_an_unknown_output_format(cfg_dir: Path) -> None:
    result = runner.invoke(app, ["validate", "--config-dir", str(cfg_dir), "--output", "yaml"])
    assert result.exit_code == 2
