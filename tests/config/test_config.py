"""Config plane: models, loader problems (file + field path), secret rejection, shipped config."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from lakehouse.config import (
    EVENT_TYPES,
    ExtractionConfig,
    GlobalConfig,
    KeywordClassField,
    LakehouseConfig,
    LapsedCustomerRule,
    MissedCallRule,
    OverdueInvoiceRule,
    PatternField,
    SourceSpec,
    UnsoldEstimateRule,
    VocabularyField,
    find_literal_secrets,
    list_config_files,
    load_config,
    resolve_secret,
    validate_config_dir,
)
from lakehouse.config.secrets import credential_kind, format_location, is_env_reference_key, is_secret_key
from lakehouse.errors import ConfigError, ConfigProblem, SettingsError

SHIPPED = Path(__file__).resolve().parents[2] / "config"

# Credential-looking strings are built at run time so that no literal one sits in the repository.
OPENAI_KEY = "sk-" + "a1B2" * 6
GITHUB_TOKEN = "gh" + "p_" + "Zx9" * 12
SLACK_TOKEN = "xo" + "xb-" + "1234567890-" + "abcDEF" * 3
AWS_KEY_ID = "AK" + "IA" + "QX7" * 5 + "Z"
PEM_BLOCK = "-----BEGIN " + "RSA PRIVATE" + " KEY-----\nMIIEow\n-----END " + "RSA PRIVATE" + " KEY-----"
SLACK_WEBHOOK = "https://hooks.slack" + ".com/services/" + "T0AAAA/B0BBBB/" + "c" * 24
URL_WITH_PASSWORD = "postgresql://report:" + "hunter2x" + "@db.internal:5432/lake"


# --- helpers -----------------------------------------------------------------------------------------


@pytest.fixture
def cfg_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped config directory."""
    target = tmp_path / "config"
    shutil.copytree(SHIPPED, target)
    return target


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = _read(path)
    change(data)
    _write(path, data)


def _by_location(problems: list[ConfigProblem], file_name: str) -> dict[str, str]:
    return {p.location: p.message for p in problems if Path(p.file).name == file_name}


def _global_data() -> dict[str, Any]:
    return _read(SHIPPED / "global.json")


def _extraction_data() -> dict[str, Any]:
    return _read(SHIPPED / "extraction" / "call_transcripts.json")


def _errors(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[tuple[str | int, ...], str]]:
    return [(tuple(e["loc"]), e["msg"]) for e in exc.value.errors()]


# --- shipped config ----------------------------------------------------------------------------------


def test_shipped_config_is_valid() -> None:
    assert validate_config_dir(SHIPPED) == []
    config = load_config(SHIPPED)
    assert {r.event_type for r in config.events} == set(EVENT_TYPES)
    assert [x.name for x in config.extraction] == ["call_transcripts"]
    assert config.global_.default_company in {c.slug for c in config.global_.companies}
    assert len(list_config_files(SHIPPED)) == 6


def test_shipped_extraction_fields() -> None:
    extraction = load_config(SHIPPED).extraction_config("call_transcripts")
    assert extraction is not None
    assert extraction.source == SourceSpec()
    brand = extraction.field("equipment_brand")
    assert isinstance(brand, VocabularyField)
    assert "A.O. Smith" in brand.vocabulary["AO Smith"]
    assert {"Carrier", "Trane", "American Standard", "Bradford White", "Square D", "Eaton"} <= set(
        brand.vocabulary
    )
    age = extraction.field("system_age_years")
    assert isinstance(age, PatternField)
    assert (age.value_type, age.min, age.max) == ("int", 0, 60)
    intent = extraction.field("intent")
    assert isinstance(intent, KeywordClassField)
    assert intent.priority == ("replacement", "repair", "quote", "maintenance")
    assert extraction.field("nope") is None


def test_events_dbt_vars_lists_every_rule_with_flat_parameters(cfg_dir: Path) -> None:
    _edit(cfg_dir / "events" / "lapsed_customer.json", lambda d: d.update(enabled=False))
    dbt_vars = load_config(cfg_dir).events_dbt_vars()
    assert dbt_vars == {
        "lapsed_customer": {
            "enabled": False,
            "severity": "low",
            "entity_type": "customer",
            "months_inactive": 12,
        },
        "missed_call": {
            "enabled": True,
            "severity": "high",
            "entity_type": "call",
            "lookback_days": 7,
            "callback_hours": 24,
        },
        "overdue_invoice": {"enabled": True, "severity": "high", "entity_type": "invoice", "grace_days": 7},
        "unsold_estimate": {
            "enabled": True,
            "severity": "medium",
            "entity_type": "estimate",
            "min_age_days": 14,
            "min_total": 500.0,
        },
    }
    json.dumps(dbt_vars)  # passed to dbt as --vars: must be plain JSON


def test_event_rule_lookup() -> None:
    config = load_config(SHIPPED)
    rule = config.event_rule("unsold_estimate")
    assert isinstance(rule, UnsoldEstimateRule)
    assert rule.parameters.min_age_days == 14
    assert rule.parameters.min_total == 500.0
    assert isinstance(config.event_rule("overdue_invoice"), OverdueInvoiceRule)
    assert isinstance(config.event_rule("lapsed_customer"), LapsedCustomerRule)
    assert isinstance(config.event_rule("missed_call"), MissedCallRule)
    assert config.event_rule("no_such_event") is None


# --- models ------------------------------------------------------------------------------------------


def test_models_are_frozen_and_forbid_extra_keys() -> None:
    config = GlobalConfig.model_validate(_global_data())
    with pytest.raises(ValidationError):
        config.timezone = "UTC"  # type: ignore[misc]
    data = _global_data()
    data["retention"]["keep_forever"] = True
    with pytest.raises(ValidationError) as exc:
        GlobalConfig.model_validate(data)
    assert _errors(exc)[0][0] == ("retention", "keep_forever")


def test_global_config_helpers() -> None:
    data = _global_data()
    data["companies"].append({"slug": "beta_2", "display_name": "Beta", "business_units": ["HVAC"]})
    config = GlobalConfig.model_validate(data)
    assert config.company("beta_2") is not None
    assert config.company("zeta") is None
    assert config.timezone_of("beta_2") == config.timezone  # falls back to the global zone
    assert config.retention.keep_versions == 5
    assert config.review_gate.default_mode == "strict"
    assert (
        config.notifications.slack is not None and config.notifications.slack.url_env == "SLACK_WEBHOOK_URL"
    )


def test_global_config_defaults_for_optional_sections() -> None:
    data = _global_data()
    for key in ("notifications", "review_gate", "retention"):
        del data[key]
    config = GlobalConfig.model_validate(data)
    assert config.notifications.slack is None and config.notifications.email is None
    assert config.retention.keep_versions == 5
    assert config.review_gate.default_mode == "strict"


def _set(data: dict[str, Any], path: tuple[str | int, ...], value: object) -> None:
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


_ACME = _global_data()["companies"][0]
_EMAIL = ("notifications", "email")


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        (("default_company",), "other", "not one of the companies"),
        (("companies",), [_ACME, _ACME], "duplicate company slug 'acme'"),
        (("companies", 0, "slug"), "Acme Co", "pattern"),
        (("timezone",), "Mars/Olympus", "unknown IANA time zone"),
        (("companies", 0, "business_units"), [], "must not be empty"),
        (("companies", 0, "business_units"), ["HVAC", "HVAC"], "duplicate business unit"),
        (("retention", "keep_versions"), 0, "greater than or equal to 1"),
        (("retention", "keep_versions"), "5", "valid integer"),
        (("review_gate", "default_mode"), "lenient", "'strict' or 'soft'"),
        (("notifications", "slack", "url_env"), "slack url", "pattern"),
        ((*_EMAIL, "smtp_port"), 70000, "65535"),
        ((*_EMAIL, "to"), ["not-an-address"], "pattern"),
        ((*_EMAIL, "enabled"), "yes", "valid boolean"),
    ],
)
def test_global_config_rejects(path: tuple[str | int, ...], value: object, fragment: str) -> None:
    data = _global_data()
    _set(data, path, value)
    with pytest.raises(ValidationError) as exc:
        GlobalConfig.model_validate(data)
    errors = _errors(exc)
    assert any(loc[: len(path)] == path and fragment in msg for loc, msg in errors), errors


@pytest.mark.parametrize(
    ("version", "fragment"),
    [
        ("2", "unsupported schema_version '2'"),
        (1, "write it as a string"),
        (None, "unsupported schema_version None"),
    ],
)
def test_schema_version_names_supported_versions(version: object, fragment: str) -> None:
    data = _global_data()
    data["schema_version"] = version
    with pytest.raises(ValidationError) as exc:
        GlobalConfig.model_validate(data)
    ((loc, msg),) = _errors(exc)
    assert loc == ("schema_version",)
    assert fragment in msg and "supported versions: '1'" in msg


def test_event_rule_models() -> None:
    common = {"schema_version": "1", "severity": "high", "enabled": True, "description": "d"}
    rule = MissedCallRule.model_validate(
        {**common, "event_type": "missed_call", "parameters": {"lookback_days": 3, "callback_hours": 4}}
    )
    assert rule.entity_type == "call"  # defaults to the one entity the rule is about
    with pytest.raises(ValidationError) as exc:
        OverdueInvoiceRule.model_validate(
            {
                **common,
                "event_type": "overdue_invoice",
                "entity_type": "estimate",
                "parameters": {"grace_days": 1},
            }
        )
    assert _errors(exc) == [(("entity_type",), "Input should be 'invoice'")]
    with pytest.raises(ValidationError) as exc:
        LapsedCustomerRule.model_validate(
            {**common, "event_type": "lapsed_customer", "parameters": {"months_inactive": 0}}
        )
    assert _errors(exc)[0][0] == ("parameters", "months_inactive")
    with pytest.raises(ValidationError) as exc:
        UnsoldEstimateRule.model_validate(
            {
                **common,
                "event_type": "unsold_estimate",
                "parameters": {"min_age_days": 14, "min_total": "500"},
            }
        )
    assert _errors(exc)[0][0] == ("parameters", "min_total")
    # An int is accepted where a float is declared.
    ok = UnsoldEstimateRule.model_validate(
        {**common, "event_type": "unsold_estimate", "parameters": {"min_age_days": 0, "min_total": 0}}
    )
    assert ok.parameters.min_total == 0.0


def test_pattern_field_checks_regexes_and_bounds() -> None:
    base = {"name": "age", "kind": "pattern", "value_type": "int"}
    with pytest.raises(ValidationError) as exc:
        PatternField.model_validate(
            {**base, "patterns": ["(?P<value>\\d+", "\\d+ years", "ok (?P<value>\\d+)"]}
        )
    errors = _errors(exc)
    assert [loc for loc, _ in errors] == [("patterns", 0), ("patterns", 1)]
    assert "invalid regular expression" in errors[0][1]
    assert "named group 'value'" in errors[1][1]
    with pytest.raises(ValidationError) as exc:
        PatternField.model_validate({**base, "patterns": ["(?P<value>\\d+)"], "min": 10, "max": 1})
    assert _errors(exc)[0][0] == ("max",)
    with pytest.raises(ValidationError) as exc:
        PatternField.model_validate({**base, "value_type": "str", "patterns": ["(?P<value>\\w+)"], "min": 1})
    assert _errors(exc)[0][0] == ("min",)
    with pytest.raises(ValidationError) as exc:
        PatternField.model_validate({**base, "patterns": []})
    assert _errors(exc) == [(("patterns",), "Value error, must not be empty")]


def test_vocabulary_field_rejects_ambiguous_and_empty_phrases() -> None:
    base = {"name": "brand", "kind": "vocabulary"}
    ok = VocabularyField.model_validate(
        {**base, "vocabulary": {"AO Smith": ["A.O. Smith"], "Rheem": ["Rheem"]}}
    )
    assert ok.vocabulary["AO Smith"] == ("A.O. Smith",)
    with pytest.raises(ValidationError) as exc:
        VocabularyField.model_validate(
            {**base, "vocabulary": {"Trane": ["trane"], "American Standard": ["TRANE"]}}
        )
    assert "listed under both 'Trane' and 'American Standard'" in _errors(exc)[0][1]
    with pytest.raises(ValidationError) as exc:
        VocabularyField.model_validate({**base, "vocabulary": {"Trane": []}})
    assert _errors(exc)[0][0] == ("vocabulary", "Trane")
    with pytest.raises(ValidationError) as exc:
        VocabularyField.model_validate({**base, "name": "Brand Name", "vocabulary": {"Trane": ["  "]}})
    assert {loc for loc, _ in _errors(exc)} == {("name",), ("vocabulary", "Trane", 0)}


def test_keyword_class_priority_must_list_exactly_the_classes() -> None:
    base = {"name": "intent", "kind": "keyword_classes", "classes": {"repair": ["fix"], "quote": ["price"]}}
    assert KeywordClassField.model_validate({**base, "priority": ["quote", "repair"]}).priority == (
        "quote",
        "repair",
    )
    for priority, fragment in [
        (["repair"], "missing 'quote'"),
        (["repair", "quote", "sales"], "not a class: 'sales'"),
        (["repair", "quote", "repair"], "duplicate class in priority 'repair'"),
    ]:
        with pytest.raises(ValidationError) as exc:
            KeywordClassField.model_validate({**base, "priority": priority})
        ((loc, msg),) = _errors(exc)
        assert loc == ("priority",) and fragment in msg


def test_extraction_config_rejects_duplicate_field_names_and_bad_name() -> None:
    data = _extraction_data()
    data["fields"].append(dict(data["fields"][0]))
    with pytest.raises(ValidationError) as exc:
        ExtractionConfig.model_validate(data)
    assert _errors(exc) == [
        (("fields",), "Value error, duplicate field name 'equipment_brand' (fields[0] and fields[3])")
    ]
    data = _extraction_data()
    data["name"] = "Call Transcripts"
    with pytest.raises(ValidationError):
        ExtractionConfig.model_validate(data)


def test_lakehouse_config_rejects_duplicate_rules() -> None:
    config = load_config(SHIPPED)
    with pytest.raises(ValidationError, match="duplicate event_type 'lapsed_customer'"):
        LakehouseConfig(global_=config.global_, events=(config.events[0], config.events[0]))
    with pytest.raises(ValidationError, match="duplicate extraction name"):
        LakehouseConfig(global_=config.global_, extraction=config.extraction * 2)


# --- loader problems ---------------------------------------------------------------------------------


def test_load_config_raises_config_error_with_every_problem(cfg_dir: Path) -> None:
    _edit(cfg_dir / "global.json", lambda d: d["retention"].update(keep_versions=0))
    _edit(cfg_dir / "events" / "unsold_estimate.json", lambda d: d["parameters"].update(min_age_days=-1))
    _edit(cfg_dir / "events" / "missed_call.json", lambda d: d.update(severity="urgent"))

    def break_extraction(d: dict[str, Any]) -> None:
        d["fields"][1]["patterns"][0] = "(?P<val>\\d+) years"
        d["fields"][2]["priority"] = ["repair"]

    _edit(cfg_dir / "extraction" / "call_transcripts.json", break_extraction)
    with pytest.raises(ConfigError) as exc:
        load_config(cfg_dir)
    problems = exc.value.problems
    assert [str(p) for p in problems] == [str(p) for p in validate_config_dir(cfg_dir)]
    found = {(Path(p.file).name, p.location) for p in problems}
    assert found == {
        ("global.json", "retention.keep_versions"),
        ("unsold_estimate.json", "parameters.min_age_days"),
        ("missed_call.json", "severity"),
        ("call_transcripts.json", "fields[1].patterns[0]"),
        ("call_transcripts.json", "fields[2].priority"),
    }
    assert all(Path(p.file).is_file() for p in problems)
    assert "and 4 more problem(s)" in str(exc.value)


def test_invalid_json_reports_line_and_column(cfg_dir: Path) -> None:
    (cfg_dir / "events" / "overdue_invoice.json").write_text('{\n  "schema_version": "1",\n  "grace": }\n')
    (cfg_dir / "global.json").write_text("[1, 2]")
    problems = validate_config_dir(cfg_dir)
    assert _by_location(problems, "overdue_invoice.json") == {
        "line 3, column 12": "invalid JSON: Expecting value"
    }
    assert _by_location(problems, "global.json") == {"": "top level must be a JSON object, not an array"}


def test_duplicate_json_keys_nan_and_non_utf8(cfg_dir: Path) -> None:
    text = (cfg_dir / "events" / "missed_call.json").read_text()
    (cfg_dir / "events" / "missed_call.json").write_text(
        text.replace('"lookback_days": 7,', '"lookback_days": 7, "lookback_days": 9,')
    )
    (cfg_dir / "events" / "overdue_invoice.json").write_text(
        (cfg_dir / "events" / "overdue_invoice.json").read_text().replace("7", "NaN")
    )
    (cfg_dir / "events" / "lapsed_customer.json").write_bytes(b'{"description": "caf\xe9"}')
    problems = validate_config_dir(cfg_dir)
    assert _by_location(problems, "missed_call.json") == {
        "parameters.lookback_days": "key appears more than once; only the last value would be used"
    }
    assert _by_location(problems, "overdue_invoice.json") == {"": "invalid JSON: NaN is not valid JSON"}
    assert _by_location(problems, "lapsed_customer.json") == {"byte 20": "file is not UTF-8 text"}


def test_unknown_schema_version_is_the_only_problem_of_its_file(cfg_dir: Path) -> None:
    _write(
        cfg_dir / "events" / "missed_call.json", {"schema_version": "7", "event_type": "missed_call", "x": 1}
    )
    problems = validate_config_dir(cfg_dir)
    assert _by_location(problems, "missed_call.json") == {
        "schema_version": "unsupported schema_version '7'; supported versions: '1'"
    }


def test_missing_schema_version_and_unknown_keys(cfg_dir: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        del d["schema_version"]
        d["parameters"]["grace_hours"] = 3

    _edit(cfg_dir / "events" / "overdue_invoice.json", change)
    assert _by_location(validate_config_dir(cfg_dir), "overdue_invoice.json") == {
        "schema_version": "Field required",
        "parameters.grace_hours": "unknown key (not part of the schema)",
    }


def test_unknown_and_missing_discriminators_point_at_the_tag(cfg_dir: Path) -> None:
    _edit(cfg_dir / "events" / "missed_call.json", lambda d: d.update(event_type="dropped_call"))

    def change(d: dict[str, Any]) -> None:
        d["fields"][0]["kind"] = "dictionary"
        del d["fields"][1]["kind"]

    _edit(cfg_dir / "extraction" / "call_transcripts.json", change)
    problems = validate_config_dir(cfg_dir)
    missed = _by_location(problems, "missed_call.json")
    assert list(missed) == ["event_type"]
    assert "'dropped_call'" in missed["event_type"] and "'missed_call'" in missed["event_type"]
    extraction = _by_location(problems, "call_transcripts.json")
    assert set(extraction) == {"fields[0].kind", "fields[1].kind"}
    assert "'dictionary'" in extraction["fields[0].kind"]


def test_locations_inside_union_members_drop_the_tag(cfg_dir: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["fields"][0]["vocabulary"]["AO Smith"] = ["A.O. Smith", ""]
        d["fields"][1]["max"] = "sixty"
        d["fields"][2]["classes"]["repair"] = []

    _edit(cfg_dir / "extraction" / "call_transcripts.json", change)
    assert set(_by_location(validate_config_dir(cfg_dir), "call_transcripts.json")) == {
        'fields[0].vocabulary["AO Smith"][1]',
        "fields[1].max",
        "fields[2].classes.repair",
    }


def test_duplicate_event_type_across_files(cfg_dir: Path) -> None:
    shutil.copy(cfg_dir / "events" / "missed_call.json", cfg_dir / "events" / "missed_call_copy.json")
    _edit(cfg_dir / "events" / "missed_call_copy.json", lambda d: d["parameters"].update(lookback_days=0))
    problems = validate_config_dir(cfg_dir)
    copy = _by_location(problems, "missed_call_copy.json")
    assert copy["event_type"].startswith("duplicate event_type 'missed_call': already defined in ")
    assert copy["event_type"].endswith("missed_call.json")
    assert "parameters.lookback_days" in copy  # the copy's own problems are reported too


def test_duplicate_extraction_name_across_files(cfg_dir: Path) -> None:
    shutil.copy(cfg_dir / "extraction" / "call_transcripts.json", cfg_dir / "extraction" / "calls2.json")
    assert _by_location(validate_config_dir(cfg_dir), "calls2.json") == {
        "name": "duplicate name 'call_transcripts': already defined in "
        + str(cfg_dir / "extraction" / "call_transcripts.json")
    }


def test_extraction_source_columns_must_exist_in_the_declared_dataset(cfg_dir: Path) -> None:
    _edit(cfg_dir / "extraction" / "call_transcripts.json", lambda d: d["source"].update(text_column="notes"))
    problems = _by_location(validate_config_dir(cfg_dir), "call_transcripts.json")
    assert list(problems) == ["source.text_column"]
    assert problems["source.text_column"].startswith("column 'notes' is not in dataset 'calls'")
    # A dataset without a declared schema is not checked.
    _edit(cfg_dir / "extraction" / "call_transcripts.json", lambda d: d["source"].update(dataset="sms"))
    assert validate_config_dir(cfg_dir) == []


def test_missing_files_and_directories(tmp_path: Path, cfg_dir: Path) -> None:
    assert [(p.file, p.message) for p in validate_config_dir(tmp_path / "absent")] == [
        (
            str(tmp_path / "absent"),
            "config directory not found; set LAKEHOUSE_CONFIG_DIR to your config folder (or unset it for ./config, else the shipped default)",
        )
    ]
    (cfg_dir / "global.json").unlink()
    assert [(Path(p.file).name, p.message) for p in validate_config_dir(cfg_dir)] == [
        ("global.json", "file not found; a config directory needs global.json")
    ]
    only_global = tmp_path / "only_global"
    only_global.mkdir()
    shutil.copy(SHIPPED / "global.json", only_global / "global.json")
    (only_global / "events").mkdir()
    (only_global / "events" / "README.md").write_text("not a rule")
    config = load_config(only_global)
    assert config.events == () and config.extraction == ()
    assert config.events_dbt_vars() == {}


def test_file_named_differently_from_its_event_type_is_logged(
    cfg_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (cfg_dir / "events" / "missed_call.json").rename(cfg_dir / "events" / "calls.json")
    with caplog.at_level(logging.WARNING, logger="lakehouse.config.loader"):
        config = load_config(cfg_dir)
    assert config.event_rule("missed_call") is not None
    assert "name the file missed_call.json" in caplog.text


# --- secrets -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "kind"),
    [
        (OPENAI_KEY, "sk-"),
        (GITHUB_TOKEN, "GitHub token"),
        (SLACK_TOKEN, "Slack token"),
        (AWS_KEY_ID, "AWS access key id"),
        (PEM_BLOCK, "PEM private key"),
        (SLACK_WEBHOOK, "Slack webhook URL"),
        (URL_WITH_PASSWORD, "embedded password"),
    ],
)
def test_credential_values_are_rejected_anywhere_and_masked(cfg_dir: Path, secret: str, kind: str) -> None:
    _edit(
        cfg_dir / "extraction" / "call_transcripts.json",
        lambda d: d["fields"][2]["classes"]["quote"].append(secret),
    )
    problems = validate_config_dir(cfg_dir)
    messages = _by_location(problems, "call_transcripts.json")
    assert list(messages) == ["fields[2].classes.quote[6]"]
    assert kind in messages["fields[2].classes.quote[6]"]
    assert f"{len(secret)} characters" in messages["fields[2].classes.quote[6]"]
    assert all(secret not in str(p) and secret[:12] not in str(p) for p in problems)


@pytest.mark.parametrize(
    "text",
    [
        "risk-" + "a" * 30,  # "sk-" inside a word
        "sk-" + "short",
        "AK" + "IA" + "X" * 15,  # one character short
        "AK" + "IA" + "X" * 17,  # part of a longer word
        "-----BEGIN " + "PUBLIC" + " KEY-----",
        "postgresql+psycopg://postgres@127.0.0.1:5432/lake",  # user, no password
        "The caller asked about a ghp_ prefix",
        "SLACK_WEBHOOK_URL",
    ],
)
def test_lookalikes_are_not_credentials(text: str) -> None:
    assert credential_kind(text) is None


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "smtp_password",
        "smtpPassword",
        "passwd",
        "api_key",
        "apiKey",
        "APIKey",
        "apikey",
        "access-key",
        "private_key",
        "secret",
        "client_secret",
        "slack_token",
        "SLACK_TOKEN",
        "key",
        "credentials",
        "auth_tokens",
    ],
)
def test_secret_key_names(name: str) -> None:
    assert is_secret_key(name)


@pytest.mark.parametrize(
    "name",
    [
        "primary_key",
        "primaryKey",
        "sort_key",
        "key_column",
        "keywords",
        "keys",
        "monkey",
        "tokenizer",
        "token_url",
        "password_file",
        "secret_name",
        "url_env",
        "smtp_password_env",
        "description",
        "smtp_user",
    ],
)
def test_non_secret_key_names(name: str) -> None:
    assert not is_secret_key(name)


def test_env_reference_keys() -> None:
    assert is_env_reference_key("url_env") and is_env_reference_key("smtpPasswordEnv")
    assert not is_env_reference_key("env") and not is_env_reference_key("environment")


def test_literal_secret_under_a_secret_key_is_rejected_and_masked(cfg_dir: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["notifications"]["email"]["smtp_password"] = "hunter2-correct-horse"
        d["notifications"]["email"]["smtp_password_env"] = None

    _edit(cfg_dir / "global.json", change)
    problems = validate_config_dir(cfg_dir)
    messages = [p.message for p in problems if p.location == "notifications.email.smtp_password"]
    assert len(problems) == len(messages) == 2
    assert "literal secret" in messages[0] and "21 characters" in messages[0]
    assert '"smtp_password_env": "SMTP_PASSWORD"' in messages[0]
    assert messages[1] == "unknown key (not part of the schema)"  # the model does not know the key either
    assert all("hunter2" not in str(p) for p in problems)


def test_env_reference_must_be_a_variable_name() -> None:
    problems = find_literal_secrets(
        {
            "slack": {"url_env": SLACK_WEBHOOK},
            "email": {"smtp_password_env": "hunter2"},
            "ok": {"a_env": "SMTP_PASSWORD", "b_env": None, "c_env": "", "d_env": "_X1"},
        },
        "global.json",
    )
    assert [(p.file, p.location) for p in problems] == [
        ("global.json", "slack.url_env"),
        ("global.json", "email.smtp_password_env"),
    ]
    assert "looks like a Slack webhook URL" in problems[0].message and "'URL'" in problems[0].message
    assert "does not hold an environment variable name" in problems[1].message
    assert "'SMTP_PASSWORD'" in problems[1].message
    assert all(SLACK_WEBHOOK not in p.message and "hunter2" not in p.message for p in problems)


def test_secret_scan_details() -> None:
    data = {
        "api_keys": ["abc123", "", None],  # plural after a qualifier; every string below it is a secret
        "credentials": {"user": "bob", "password_env": "DB_PASSWORD"},
        "primary_key": "customer_id",
        "keywords": ["token", "password"],
        "password": "",  # empty is fine
        "token": None,
        "max_tokens": 512,  # only strings are literal secrets
        OPENAI_KEY: 1,  # a credential as a key
    }
    problems = find_literal_secrets(data, "f.json")
    assert [p.location for p in problems] == [
        "api_keys[0]",
        "credentials.user",
        f"[<value masked, {len(OPENAI_KEY)} characters>]",  # a credential-looking key is masked in place
    ]
    assert all(OPENAI_KEY not in str(p) for p in problems)


def test_secrets_are_reported_with_the_other_problems(cfg_dir: Path) -> None:
    _edit(
        cfg_dir / "events" / "missed_call.json", lambda d: d.update(description="call back " + GITHUB_TOKEN)
    )
    _edit(cfg_dir / "events" / "overdue_invoice.json", lambda d: d["parameters"].update(grace_days=-1))
    problems = validate_config_dir(cfg_dir)
    assert {(Path(p.file).name, p.location) for p in problems} == {
        ("missed_call.json", "description"),
        ("overdue_invoice.json", "parameters.grace_days"),
    }


def test_format_location() -> None:
    assert format_location([]) == ""
    assert format_location(["fields", 2, "patterns", 0]) == "fields[2].patterns[0]"
    assert format_location(["parameters", "min_age_days"]) == "parameters.min_age_days"
    assert format_location(["vocabulary", "A.O. Smith", 1]) == 'vocabulary["A.O. Smith"][1]'
    assert format_location(["vocabulary", "", "[key]"]) == 'vocabulary[""][key]'


def test_resolve_secret() -> None:
    assert resolve_secret("SMTP_PASSWORD", {"SMTP_PASSWORD": "x"}) == "x"
    with pytest.raises(SettingsError, match="SMTP_PASSWORD is not set"):
        resolve_secret("SMTP_PASSWORD", {"SMTP_PASSWORD": ""})
    with pytest.raises(SettingsError):
        resolve_secret("SMTP_PASSWORD", {})
