"""Secrets in the config plane: every value scanned, and no message (ours or pydantic's) repeats a secret."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from lakehouse.config import (
    GlobalConfig,
    SlackChannel,
    find_literal_secrets,
    load_config,
    validate_config_dir,
)
from lakehouse.config.secrets import (
    BASIC_CREDENTIAL,
    CREDENTIAL_PATTERNS,
    credential_kind,
    env_reference_problem,
    format_location,
    quote,
    redact,
    redact_problem,
    scan_literal_secrets,
)
from lakehouse.errors import ConfigError, ConfigProblem

SHIPPED = Path(__file__).resolve().parents[2] / "config"

# Credential-looking strings are built at run time so that no literal one sits in the repository.
SLACK_TOKEN = "xo" + "xb-" + "1234567890-" + "abcDEF" * 3
GITHUB_TOKEN = "gh" + "p_" + "Zx9" * 12
AWS_KEY_ID = "AK" + "IA" + "QX7" * 5 + "Z"
SLUG_KEY = "sk-" + "a1b2" * 6  # an API key that is also a valid slug
JWT = ".".join(
    base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
    for part in ({"alg": "HS256", "typ": "JWT"}, {"sub": "ops-bot", "iat": 1717200000})
) + ("." + "s1gnature" * 4)
BASIC = base64.b64encode(b"alerts:Spring-2024!").decode()
HOST_LOGIN = "alerts:" + "Spring-2024!" + "@smtp.example.com"
PEM_BLOCK = (
    "-----BEGIN " + "RSA PRIVATE" + " KEY-----\nMIIEowIBAAKCAQEA\n-----END " + "RSA PRIVATE" + " KEY-----"
)


@pytest.fixture
def cfg_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped config directory."""
    target = tmp_path / "config"
    shutil.copytree(SHIPPED, target)
    return target


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _global_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SHIPPED / "global.json").read_text(encoding="utf-8"))
    return data


def _assert_never_shown(problems: list[ConfigProblem], *secrets: str) -> None:
    text = "\n".join(str(p) for p in problems)
    for secret in secrets:
        assert secret not in text and secret[:12] not in text, text


# --- what counts as a credential ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (JWT, "JSON Web Token"),
        ("Bearer " + JWT, "JSON Web Token"),
        (BASIC, BASIC_CREDENTIAL),
        ("Basic " + BASIC, BASIC_CREDENTIAL),
        (HOST_LOGIN, "login with a password"),
        ("alerts:pw@host", "login with a password"),
        ("smtp://alerts:" + "pw" + "@mail.example.com:587", "URL with an embedded password"),
        (AWS_KEY_ID, "AWS access key id"),
    ],
)
def test_new_credential_kinds(value: str, kind: str) -> None:
    found = credential_kind(value)
    assert found is not None and kind in found


@pytest.mark.parametrize(
    "text",
    [
        "mailto:ops@example.com",  # a URI scheme, not a login
        "sip:dispatch@pbx.example.com",
        "alerts@example.com",
        "postgresql+psycopg://postgres@127.0.0.1:5432/lake",  # a user, no password
        "user:pass",  # no host: only a login key makes this a credential
        "Opens 07:30, closes 18:00",
        "eyJhbGciOiJIUzI1NiJ9",  # one segment is no token
        base64.b64encode(b"Hello world, no colon").decode(),  # base64 of ordinary text
        "Acme Heating, Plumbing & Electric",
        "Bradford-White",
        "\\b(?P<value>\\d{1,2})[- ]years?[- ]old\\b",
    ],
)
def test_lookalikes_of_the_new_kinds_are_not_credentials(text: str) -> None:
    assert credential_kind(text) is None


def test_the_shipped_config_holds_no_credential_looking_string() -> None:
    for path in sorted(SHIPPED.rglob("*.json")):
        assert find_literal_secrets(json.loads(path.read_text(encoding="utf-8")), path.name) == []


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (AWS_KEY_ID, "AWS access key id"),  # a valid variable name, and a key all the same
        ("X9F2K7Q1Z8W3M4N5", "random token"),
        ("slack-webhook", "does not hold an environment variable name"),
    ],
)
def test_env_reference_must_name_a_variable(value: str, fragment: str) -> None:
    problem = env_reference_problem(value)
    assert problem is not None and fragment in problem
    for name in ("SLACK_WEBHOOK_URL", "SMTP_PASSWORD", "S3_BUCKET_2024", "_X1"):
        assert env_reference_problem(name) is None


# --- literal credentials in ordinary fields ----------------------------------------------------------

_EMAIL = ("notifications", "email")


@pytest.mark.parametrize(
    ("path", "value", "kind"),
    [
        ((*_EMAIL, "smtp_user"), BASIC, "base64-encoded user:password pair"),
        ((*_EMAIL, "smtp_user"), "alerts:" + "Spring-2024!", "user:password pair"),
        ((*_EMAIL, "smtp_host"), HOST_LOGIN, "login with a password"),
        (("companies", 0, "display_name"), JWT, "JSON Web Token"),
        (("notifications", "slack", "url_env"), AWS_KEY_ID, "AWS access key id"),
        ((*_EMAIL, "smtp_password_env"), "X9F2K7Q1Z8W3M4N5", "random token"),
        (("notifications", "slack", "channel"), PEM_BLOCK, "PEM private key"),
    ],
)
def test_literal_credentials_in_ordinary_fields_are_rejected(
    cfg_dir: Path, path: tuple[str | int, ...], value: str, kind: str
) -> None:
    def change(data: dict[str, Any]) -> None:
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    _edit(cfg_dir / "global.json", change)
    problems = validate_config_dir(cfg_dir)
    assert [p.location for p in problems] == [format_location(path)]  # once, by the secret scan
    assert kind in problems[0].message and f"{len(value)} characters" in problems[0].message
    _assert_never_shown(problems, value)


def test_scan_returns_the_secret_values_it_reported() -> None:
    scan = scan_literal_secrets(
        {"smtp_user": BASIC, "password": "hunter2-horse", "url_env": "SLACK_WEBHOOK_URL", SLUG_KEY: 1},
        "global.json",
    )
    assert scan.values == {BASIC, "hunter2-horse", SLUG_KEY}
    assert len(scan.problems) == 3


# --- no message repeats a secret ---------------------------------------------------------------------


def _set_company_timezone(value: str) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["companies"][0].update(timezone=value)


@pytest.mark.parametrize(
    ("file", "change", "location", "fragment", "secret"),
    [
        (
            "global.json",
            _set_company_timezone(SLACK_TOKEN),
            "companies[0].timezone",
            "unknown IANA time zone <value masked, ",
            SLACK_TOKEN,
        ),
        (
            "global.json",
            lambda d: d.update(schema_version=GITHUB_TOKEN),
            "schema_version",
            "unsupported schema_version <value masked, ",
            GITHUB_TOKEN,
        ),
        (
            "events/missed_call.json",
            lambda d: d.update(schema_version=GITHUB_TOKEN),
            "schema_version",
            "unsupported schema_version <value masked, ",
            GITHUB_TOKEN,
        ),
        (
            "global.json",
            lambda d: d["companies"][0].update(business_units=[SLACK_TOKEN, SLACK_TOKEN]),
            "companies[0].business_units",
            "duplicate business unit <value masked, ",
            SLACK_TOKEN,
        ),
        (
            "global.json",
            lambda d: d.update(default_company=SLUG_KEY),
            "default_company",
            "default_company <value masked, ",
            SLUG_KEY,
        ),
        (  # pydantic's own message quotes the tag it did not know
            "events/missed_call.json",
            lambda d: d.update(event_type=SLACK_TOKEN),
            "event_type",
            "Input tag <value masked, ",
            SLACK_TOKEN,
        ),
        (  # a key that is a token shows masked in the location
            "extraction/call_transcripts.json",
            lambda d: d["fields"][0]["vocabulary"].update({GITHUB_TOKEN: []}),
            f"fields[0].vocabulary[<value masked, {len(GITHUB_TOKEN)} characters>]",
            "must not be empty",
            GITHUB_TOKEN,
        ),
        (  # the loader's own cross-check quotes the column
            "extraction/call_transcripts.json",
            lambda d: d["source"].update(text_column=SLACK_TOKEN),
            "source.text_column",
            "column <value masked, ",
            SLACK_TOKEN,
        ),
        (
            "extraction/call_transcripts.json",
            lambda d: d["fields"][0]["vocabulary"].update(Other=[PEM_BLOCK], Another=[PEM_BLOCK]),
            "fields[0].vocabulary",
            "phrase <value masked, ",
            "MIIEowIBAAKCAQEA",
        ),
    ],
)
def test_messages_never_repeat_a_secret(
    cfg_dir: Path,
    file: str,
    change: Callable[[dict[str, Any]], None],
    location: str,
    fragment: str,
    secret: str,
) -> None:
    _edit(cfg_dir / file, change)
    problems = validate_config_dir(cfg_dir)
    assert any(p.location == location and fragment in p.message for p in problems), problems
    _assert_never_shown(problems, secret)


def test_a_secret_found_by_its_key_is_masked_in_every_other_message(cfg_dir: Path) -> None:
    password = "Spring-2024!"  # not credential-looking by itself: only its key says it is a secret

    def change(data: dict[str, Any]) -> None:
        data["notifications"]["email"]["smtp_password"] = password
        data["companies"][0]["timezone"] = password  # pasted into the wrong field as well

    _edit(cfg_dir / "global.json", change)
    problems = validate_config_dir(cfg_dir)
    assert {p.location for p in problems} == {"notifications.email.smtp_password", "companies[0].timezone"}
    timezone = next(p for p in problems if p.location == "companies[0].timezone")
    assert timezone.message == "unknown IANA time zone <value masked, 12 characters>, e.g. 'America/Chicago'"
    _assert_never_shown(problems, password)


def test_duplicate_across_files_does_not_repeat_the_value(cfg_dir: Path) -> None:
    extraction = cfg_dir / "extraction"
    shutil.copy(extraction / "call_transcripts.json", extraction / "copy.json")
    for path in (extraction / "call_transcripts.json", extraction / "copy.json"):
        _edit(path, lambda d: d.update(name=SLUG_KEY))
    problems = validate_config_dir(cfg_dir)
    duplicate = [p for p in problems if p.message.startswith("duplicate name")]
    assert len(duplicate) == 1 and "<value masked, " in duplicate[0].message
    _assert_never_shown(problems, SLUG_KEY)


def test_config_error_message_is_masked(cfg_dir: Path) -> None:
    _edit(cfg_dir / "global.json", _set_company_timezone(SLACK_TOKEN))
    with pytest.raises(ConfigError) as exc:
        load_config(cfg_dir)
    assert SLACK_TOKEN not in str(exc.value)
    _assert_never_shown(exc.value.problems, SLACK_TOKEN)


# --- the models themselves ---------------------------------------------------------------------------


def test_model_errors_do_not_echo_credentials() -> None:
    data = _global_data()
    data["timezone"] = SLACK_TOKEN
    data["schema_version"] = GITHUB_TOKEN
    with pytest.raises(ValidationError) as exc:
        GlobalConfig.model_validate(data)
    text = str(exc.value)  # what a log line or traceback would show, input_value included
    assert "unsupported schema_version <value masked, " in text
    assert SLACK_TOKEN not in text and GITHUB_TOKEN not in text


def test_model_rejects_a_key_as_environment_variable_name() -> None:
    assert SlackChannel(url_env="SLACK_WEBHOOK_URL").url_env == "SLACK_WEBHOOK_URL"
    with pytest.raises(ValidationError) as exc:
        SlackChannel(url_env=AWS_KEY_ID)
    (error,) = exc.value.errors()
    assert error["loc"] == ("url_env",) and "AWS access key id" in error["msg"]
    assert AWS_KEY_ID not in str(exc.value)


def test_quote_masks_only_credentials() -> None:
    assert quote("Mars/Olympus") == "'Mars/Olympus'"
    assert quote(None) == "None" and quote(2) == "2"
    assert quote(SLACK_TOKEN) == f"<value masked, {len(SLACK_TOKEN)} characters>"


# --- redact ------------------------------------------------------------------------------------------


def test_redact_masks_patterns_known_values_and_whole_pem_blocks() -> None:
    assert redact(f"tag {JWT!r} found") == f"tag '<value masked, {len(JWT)} characters>' found"
    assert "MIIE" not in redact(repr(PEM_BLOCK)) and "END" not in redact(repr(PEM_BLOCK))
    # Known values are masked quoted (any length) and bare (8+ characters); a placeholder is never re-masked.
    assert redact("'pw' and \"pw\" and pw", ["pw"]) == (
        "<value masked, 2 characters> and <value masked, 2 characters> and pw"
    )
    assert redact("a characters b", ["characters"]) == "a <value masked, 10 characters> b"
    assert redact("nothing here", ["", "x"]) == "nothing here"


def test_credential_descriptions_survive_redaction() -> None:
    for kind, _ in CREDENTIAL_PATTERNS:
        assert redact(kind) == kind
    assert redact(BASIC_CREDENTIAL) == BASIC_CREDENTIAL


def test_redact_problem_covers_file_location_and_message() -> None:
    problem = ConfigProblem(f"/cfg/{SLACK_TOKEN}.json", f"vocabulary.{GITHUB_TOKEN}", "holds 'hunter2'")
    masked = redact_problem(problem, ["hunter2"])
    assert SLACK_TOKEN not in str(masked) and GITHUB_TOKEN not in str(masked) and "hunter2" not in str(masked)
    assert masked.message == "holds <value masked, 7 characters>"
