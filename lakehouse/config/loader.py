"""Load and validate a config directory, reporting every problem at once.

Layout of a config directory::

    global.json                 GlobalConfig (required)
    events/<event_type>.json    one EventRule per file
    extraction/<name>.json      one ExtractionConfig per file

Each file goes through the same steps: read as UTF-8, parse JSON (line and column on error, duplicate
keys reported), scan for literal secrets, check ``schema_version``, then validate with pydantic. Checks
across files follow: one rule per event type, unique extraction names, and extraction source columns
that exist in the declared raw schema. Problems name the file and the field path
(``fields[2].patterns[0]``). Every problem leaves through :func:`~lakehouse.config.secrets.redact_problem`,
so that no message, pydantic's included, repeats a secret found in any file or anything credential-looking.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from lakehouse.config.models import (
    EventRule,
    ExtractionConfig,
    GlobalConfig,
    LakehouseConfig,
    NotificationsConfig,
    check_schema_version,
)
from lakehouse.config.secrets import (
    LiteralSecretError,
    format_location,
    quote,
    redact_problem,
    scan_literal_secrets,
)
from lakehouse.dataplane.schemas import RAW_SCHEMAS
from lakehouse.errors import ConfigError, ConfigProblem

logger = logging.getLogger(__name__)

GLOBAL_FILE = "global.json"
EVENTS_DIR = "events"
EXTRACTION_DIR = "extraction"

# Keys whose value selects the model of a tagged union; pydantic puts that value into error locations.
_DISCRIMINATORS = ("event_type", "kind")

_T = TypeVar("_T", bound=BaseModel)

_GLOBAL_ADAPTER: TypeAdapter[GlobalConfig] = TypeAdapter(GlobalConfig)
_EVENT_ADAPTER: TypeAdapter[EventRule] = TypeAdapter(EventRule)
_EXTRACTION_ADAPTER: TypeAdapter[ExtractionConfig] = TypeAdapter(ExtractionConfig)


def load_config(config_dir: Path) -> LakehouseConfig:
    """Load and validate every file of a config directory.

    Args:
        config_dir: the directory (``settings.config_dir``).

    Returns:
        The validated configuration.

    Raises:
        ConfigError: with every problem found in every file.
    """
    config, problems = _load(config_dir)
    if config is None:
        raise ConfigError(problems)
    return config


def validate_config_dir(config_dir: Path) -> list[ConfigProblem]:
    """Check a config directory without raising.

    Args:
        config_dir: the directory to check.

    Returns:
        Every problem found; empty when the directory is valid.
    """
    return _load(config_dir)[1]


def check_config_dir(
    config_dir: Path, env: Mapping[str, str] | None = None
) -> tuple[list[ConfigProblem], list[ConfigProblem]]:
    """Check a config directory without raising: its problems, and the warnings of a valid one.

    Args:
        config_dir: the directory to check.
        env: the environment the channels' variables are read from (default: ``os.environ``).

    Returns:
        ``(problems, warnings)``: warnings (see :func:`notification_warnings`) only when there is
        no problem, each located in global.json.
    """
    config, problems = _load(config_dir)
    if config is None:
        return problems, []
    file = str(config_dir / GLOBAL_FILE)
    return [], [
        ConfigProblem(file, loc, msg) for loc, msg in notification_warnings(config.global_.notifications, env)
    ]


def notification_warnings(
    notifications: NotificationsConfig, env: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """The enabled notification channels that nothing will be sent to, and why.

    Args:
        notifications: the ``notifications`` section of global.json.
        env: where the channels' environment variables are read (default: ``os.environ``).

    Returns:
        ``(location, message)`` pairs, e.g. ``("notifications.slack.url_env", "SLACK_WEBHOOK_URL is
        not set; ...")``; empty when every enabled channel can send.
    """
    environ = os.environ if env is None else env
    found: list[tuple[str, str]] = []
    slack = notifications.slack
    if slack is not None and slack.enabled and not environ.get(slack.url_env, "").strip():
        found.append(
            (
                "notifications.slack.url_env",
                f"{slack.url_env} is not set; nothing is sent to this channel "
                f"(export {slack.url_env}=<webhook URL>, or set notifications.slack.enabled to false)",
            )
        )
    if notifications.email is not None and notifications.email.enabled:
        found.append(
            (
                "notifications.email",
                "sending email is not supported; nothing is sent to this channel "
                "(use notifications.slack or notifications.file, or set notifications.email.enabled to false)",
            )
        )
    return found


def list_config_files(config_dir: Path) -> list[Path]:
    """Return the config files of a directory in load order: global.json, events, extraction.

    Args:
        config_dir: the directory to list.

    Returns:
        The paths that exist; ``events/*.json`` and ``extraction/*.json`` sorted by name.
    """
    files = [config_dir / GLOBAL_FILE] if (config_dir / GLOBAL_FILE).is_file() else []
    return files + _json_files(config_dir / EVENTS_DIR) + _json_files(config_dir / EXTRACTION_DIR)


def _json_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.json") if p.is_file())


def _load(config_dir: Path) -> tuple[LakehouseConfig | None, list[ConfigProblem]]:
    secrets: set[str] = set()
    config, problems = _load_checked(config_dir, secrets)
    return config, [redact_problem(p, secrets) for p in problems]


def _load_checked(config_dir: Path, secrets: set[str]) -> tuple[LakehouseConfig | None, list[ConfigProblem]]:
    """Load a directory; its problems may still quote secrets, which are added to ``secrets``."""
    if not config_dir.is_dir():
        message = "config directory not found; set LAKEHOUSE_CONFIG_DIR to your config folder (or unset it for ./config, else the shipped default)"
        return None, [ConfigProblem(str(config_dir.absolute()), "", message)]
    problems: list[ConfigProblem] = []

    global_path = config_dir / GLOBAL_FILE
    global_config: GlobalConfig | None = None
    if global_path.is_file():
        global_config = _load_file(global_path, _GLOBAL_ADAPTER, problems, secrets)[1]
    else:
        problems.append(
            ConfigProblem(str(global_path), "", "file not found; a config directory needs global.json")
        )

    events = _load_unique(
        _json_files(config_dir / EVENTS_DIR), _EVENT_ADAPTER, "event_type", problems, secrets
    )
    extraction = _load_unique(
        _json_files(config_dir / EXTRACTION_DIR), _EXTRACTION_ADAPTER, "name", problems, secrets
    )
    for path, extraction_config in extraction:
        problems.extend(_check_source_columns(path, extraction_config))

    for path, rule in events:
        if path.stem != rule.event_type:
            logger.warning(
                "%s defines event_type %r; name the file %s.json", path, rule.event_type, rule.event_type
            )

    if problems or global_config is None:
        logger.debug("config %s: %d problem(s)", config_dir, len(problems))
        return None, problems
    config = LakehouseConfig(
        global_=global_config,
        events=tuple(rule for _, rule in events),
        extraction=tuple(x for _, x in extraction),
    )
    logger.debug(
        "config %s loaded: %d event rule(s), %d extraction(s)", config_dir, len(events), len(extraction)
    )
    return config, []


def _load_unique(
    paths: Sequence[Path],
    adapter: TypeAdapter[_T],
    key: str,
    problems: list[ConfigProblem],
    secrets: set[str],
) -> list[tuple[Path, _T]]:
    """Load files of one kind; a second file with the same ``key`` value (in its raw JSON) is a problem."""
    seen: dict[object, Path] = {}
    loaded: list[tuple[Path, _T]] = []
    for path in paths:
        raw, model = _load_file(path, adapter, problems, secrets)
        value = raw.get(key) if isinstance(raw, dict) else None
        if isinstance(value, str):
            if value in seen:
                problems.append(
                    ConfigProblem(
                        str(path), key, f"duplicate {key} {quote(value)}: already defined in {seen[value]}"
                    )
                )
                continue
            seen[value] = path
        if model is not None:
            loaded.append((path, model))
    return loaded


def _load_file(
    path: Path, adapter: TypeAdapter[_T], problems: list[ConfigProblem], secrets: set[str]
) -> tuple[object, _T | None]:
    """Run one file through every check; append its problems and secrets, return (raw JSON, model or None)."""
    file = str(path)
    raw = _parse_json(path, problems)
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        problems.append(ConfigProblem(file, "", f"top level must be a JSON object, not {_json_type(raw)}"))
        return raw, None
    problems.extend(_duplicate_keys(raw, [], file))
    scan = scan_literal_secrets(raw, file)
    problems.extend(scan.problems)
    secrets.update(scan.values)
    if "schema_version" in raw:
        try:
            check_schema_version(raw["schema_version"])
        except ValueError as exc:
            # Another version may have another shape: its field errors would only be noise.
            problems.append(ConfigProblem(file, "schema_version", str(exc)))
            return raw, None
    try:
        return raw, adapter.validate_python(raw)
    except ValidationError as exc:
        scanned = {p.location for p in scan.problems}
        problems.extend(_validation_problems(exc, raw, file, scanned))
        return raw, None


class _JsonObject(dict[str, Any]):
    """A parsed JSON object that remembers the keys it saw more than once."""

    duplicates: tuple[str, ...] = ()


def _object_hook(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject()
    dupes: list[str] = []
    for key, value in pairs:
        if key in obj and key not in dupes:
            dupes.append(key)
        obj[key] = value
    obj.duplicates = tuple(dupes)
    return obj


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(path: Path, problems: list[ConfigProblem]) -> object | None:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(ConfigProblem(file, f"byte {exc.start}", "file is not UTF-8 text"))
        return None
    except OSError as exc:
        problems.append(ConfigProblem(file, "", f"cannot read file: {exc.strerror or exc}"))
        return None
    try:
        parsed: object = json.loads(text, object_pairs_hook=_object_hook, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        problems.append(
            ConfigProblem(file, f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}")
        )
        return None
    except ValueError as exc:  # NaN / Infinity, from _reject_constant
        problems.append(ConfigProblem(file, "", f"invalid JSON: {exc}"))
        return None
    return parsed


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "a number"


def _duplicate_keys(node: object, loc: list[str | int], file: str) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    if isinstance(node, _JsonObject):
        for key in node.duplicates:
            where = format_location([*loc, key])
            problems.append(
                ConfigProblem(file, where, "key appears more than once; only the last value would be used")
            )
        for key, child in node.items():
            problems.extend(_duplicate_keys(child, [*loc, key], file))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            problems.extend(_duplicate_keys(child, [*loc, i], file))
    return problems


def _validation_problems(
    exc: ValidationError, raw: object, file: str, scanned: set[str]
) -> list[ConfigProblem]:
    """Turn pydantic's errors into problems; ``scanned`` holds the locations the secret scan reported."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = _strip_union_tags(error["loc"], raw)
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc.append(str(error.get("ctx", {}).get("discriminator", "")).strip("'"))
        location = format_location(loc)
        if isinstance(error.get("ctx", {}).get("error"), LiteralSecretError) and location in scanned:
            continue  # the secret scan already reported this value, with the fix
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (not part of the schema)"
        problems.append(ConfigProblem(file, location, message))
    return problems


def _strip_union_tags(loc: tuple[str | int, ...], raw: object) -> list[str | int]:
    """Drop the tag pydantic inserts into the location of an error inside a tagged-union member.

    ``("fields", 2, "pattern", "patterns", 0)`` becomes ``["fields", 2, "patterns", 0]``: at each object
    whose discriminator (``kind``/``event_type``) equals the next location part, that part is the tag.
    """
    out: list[str | int] = []
    node: object = raw
    parts = list(loc)
    i = 0
    while i < len(parts):
        part = parts[i]
        if isinstance(node, dict) and any(node.get(d) == part for d in _DISCRIMINATORS):
            i += 1  # the tag: skip it, stay on the same object
            if i >= len(parts):
                break
            part = parts[i]
        out.append(part)
        node = _child(node, part)
        i += 1
    return out


def _child(node: object, part: str | int) -> object:
    if isinstance(node, dict) and isinstance(part, str):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _check_source_columns(path: Path, config: ExtractionConfig) -> list[ConfigProblem]:
    """The source columns must exist when the source dataset has a declared raw schema."""
    schema = RAW_SCHEMAS.get(config.source.dataset)
    if schema is None:
        return []
    problems = []
    for attr in ("id_column", "entity_column", "text_column", "timestamp_column"):
        column = getattr(config.source, attr)
        if column not in schema.column_names:
            message = (
                f"column {quote(column)} is not in dataset {schema.name!r} ({', '.join(schema.column_names)})"
            )
            problems.append(ConfigProblem(str(path), f"source.{attr}", message))
    return problems
