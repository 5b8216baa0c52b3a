"""`lakehouse config validate` (the typer app in lakehouse.cli.config_cmd, invoked directly)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse.cli.config_cmd import app
from lakehouse.config.secrets import credential_spans
from lakehouse.settings import get_settings

SHIPPED = Path(__file__).resolve().parents[2] / "config"

BAD_CASES = Path(__file__).resolve().parents[1] / "data" / "bad" / "config"
"""Invalid config directories, one per folder; each has an ``expect.txt`` holding part of the error."""

# The secret each bad case plants. The fake tokens use prefixes the no-credentials hook lets through
# (gho_, xoxa-, ASIA) and that the scan treats like ghp_, xoxb-, AKIA.
_PLANTED: dict[str, tuple[str, ...]] = {
    "schema-version-token": ("gho_EXAMPLE0example0EXAMPLE0example00",),
    "secret-display-name-jwt": ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJvcHMtYWxlcnRzLWJvdCIs",),
    "secret-smtp-host-login": ("alerts:Spring-2024!@smtp.example.com", "Spring-2024!"),
    "secret-smtp-user-base64": ("YWxlcnRzOlNwcmluZy0yMDI0IQ==",),
    "secret-timezone-slack-token": ("xoxa-2417083920-7730019245-EXAMPLEtoken", "7730019245"),
    "secret-url-env-aws-key": ("ASIAIOSFODNN7EXAMPLE",),
}

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
    assert result.output == f"OK: 6 files valid in {cfg_dir}\n"


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
    assert result.output == f"OK: 5 files valid in {cfg_dir}\n"


def test_validate_rejects_an_unknown_output_format(cfg_dir: Path) -> None:
    result = runner.invoke(app, ["validate", "--config-dir", str(cfg_dir), "--output", "yaml"])
    assert result.exit_code == 2


def test_every_planted_secret_is_in_its_case() -> None:
    for case, secrets in _PLANTED.items():
        text = "".join(p.read_text(encoding="utf-8") for p in sorted((BAD_CASES / case).rglob("*.json")))
        assert all(secret in text for secret in secrets), case


@pytest.mark.parametrize("case", sorted(p.name for p in BAD_CASES.iterdir() if p.is_dir()))
def test_validate_rejects_every_bad_case(
    case: str, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    case_dir = BAD_CASES / case
    expected = (case_dir / "expect.txt").read_text(encoding="utf-8").strip()
    monkeypatch.setenv("LAKEHOUSE_CONFIG_DIR", str(case_dir))
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1, result.output
    assert expected in result.output, result.output
    for line in result.output.splitlines():
        file, location, message = line.split(": ", 2)  # every line names file, field and problem
        assert Path(file).is_file() and Path(file).is_relative_to(case_dir), line
        assert location and message, line
    for secret in _PLANTED.get(case, ()):
        assert secret not in result.output, result.output
    assert list(credential_spans(result.output)) == [], result.output


def test_validate_json_output_masks_secrets(monkeypatch: pytest.MonkeyPatch, fresh_settings: None) -> None:
    monkeypatch.setenv("LAKEHOUSE_CONFIG_DIR", str(BAD_CASES / "secret-timezone-slack-token"))
    result = runner.invoke(app, ["validate", "--output", "json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert [p["location"] for p in report["problems"]] == ["companies[0].timezone"] * 2
    assert all(secret not in result.output for secret in _PLANTED["secret-timezone-slack-token"])


def test_values_are_printed_literally(cfg_dir: Path) -> None:
    path = cfg_dir / "global.json"  # rich markup in a value must reach the terminal as typed
    path.write_text(
        path.read_text().replace('"timezone": "America/Chicago",', '"timezone": "[bold]Mars[/bold]",', 1)
    )
    result = runner.invoke(app, ["validate", "--config-dir", str(cfg_dir)])
    assert result.exit_code == 1
    assert result.output == (
        f"{cfg_dir / 'global.json'}: timezone: "
        "unknown IANA time zone '[bold]Mars[/bold]', e.g. 'America/Chicago'\n"
    )
