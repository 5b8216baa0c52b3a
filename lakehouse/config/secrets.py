"""Keep secrets out of config files.

A config file never holds a secret; it names the environment variable that does, in a key ending in
``_env`` (``"url_env": "SLACK_WEBHOOK_URL"``). :func:`find_literal_secrets` runs over the raw parsed JSON,
before any model sees it, and reports:

- a value anywhere that looks like a credential (:data:`CREDENTIAL_PATTERNS`);
- a key ending in ``_env`` whose value is not an environment variable name (null or empty is fine);
- a secret-named key (:func:`is_secret_key`) holding a literal string, or any string below such a key.

Messages never echo a secret: values are masked (:func:`mask`). :func:`resolve_secret` reads the
referenced variable at run time.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, Sequence

from lakehouse.errors import ConfigProblem, SettingsError

logger = logging.getLogger(__name__)

ENV_VAR_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
"""What the value of a ``*_env`` key must look like (a variable NAME, never a value)."""

# Each pattern is anchored so that it does not fire inside a longer word ("risk-..." is no "sk-" key).
CREDENTIAL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an API secret key (sk-...)", re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{20,}")),
    (
        "a GitHub token (ghp_...)",
        re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
    ),
    ("a Slack token (xoxb-/xoxp-...)", re.compile(r"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}")),
    (
        "a Slack webhook URL",
        re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{8,}"),
    ),
    ("an AWS access key id (AKIA...)", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")),
    ("a PEM private key block", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")),
    ("a URL with an embedded password", re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]+:[^\s/@]+@")),
)
"""(description, pattern) of values that look like credentials wherever they appear."""

# Name parts that make a key secret wherever they appear ("smtp_password", "slack_token", "apiKey").
_SECRET_PARTS = frozenset(
    {
        "token",
        "tokens",
        "secret",
        "secrets",
        "password",
        "passwords",
        "passwd",
        "pwd",
        "passphrase",
        "apikey",
        "apikeys",
        "credential",
        "credentials",
    }
)
# "key" alone is too common ("primary_key", "sort_key", "key_column"): it counts only as the whole name
# or right after one of these qualifiers ("api_key", "access_key", "private_key").
_KEY_PARTS = frozenset({"key", "keys"})
_KEY_QUALIFIERS = frozenset(
    {
        "api",
        "access",
        "private",
        "secret",
        "signing",
        "auth",
        "client",
        "encryption",
        "master",
        "service",
        "app",
        "license",
        "ssh",
        "webhook",
        "subscription",
    }
)
# A name ending in one of these describes a secret without holding it ("token_url", "password_file").
_DESCRIPTOR_PARTS = frozenset(
    {
        "name",
        "type",
        "kind",
        "url",
        "uri",
        "endpoint",
        "header",
        "id",
        "file",
        "path",
        "ttl",
        "length",
        "hint",
    }
)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def name_parts(name: str) -> list[str]:
    """Split a key name into lowercase words on ``_``, ``-``, ``.``, blanks and camelCase boundaries.

    Args:
        name: a JSON key, e.g. ``smtpPassword_env``.

    Returns:
        The words, e.g. ``["smtp", "password", "env"]``.
    """
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", spaced)
    return [p.lower() for p in re.split(r"[^A-Za-z0-9]+", spaced) if p]


def is_env_reference_key(name: str) -> bool:
    """Whether a key names an environment variable instead of holding a value (it ends in ``_env``)."""
    parts = name_parts(name)
    return len(parts) > 1 and parts[-1] == "env"


def is_secret_key(name: str) -> bool:
    """Whether a key's name says it holds a secret.

    A key is secret when one of its words (see :func:`name_parts`) is token, secret, password, passwd,
    pwd, passphrase, apikey or credential(s) (plurals too), or when it is ``key`` alone or has ``key(s)``
    right after api, access, private, secret, signing, auth, client, ... So ``primary_key``, ``sort_key``,
    ``key_column`` and ``keywords`` are not secret; neither are names ending in a descriptor (``token_url``,
    ``password_file``, ``secret_name``) nor ``*_env`` references.

    Args:
        name: a JSON key.

    Returns:
        True when a literal string under this key is a secret.
    """
    parts = name_parts(name)
    if not parts or parts[-1] == "env" or parts[-1] in _DESCRIPTOR_PARTS:
        return False
    if parts == ["key"]:
        return True
    for i, part in enumerate(parts):
        if part in _SECRET_PARTS:
            return True
        if part in _KEY_PARTS and i > 0 and parts[i - 1] in _KEY_QUALIFIERS:
            return True
    return False


def credential_kind(value: str) -> str | None:
    """Return what a string looks like if it looks like a credential (e.g. "a GitHub token"), else None."""
    for kind, pattern in CREDENTIAL_PATTERNS:
        if pattern.search(value):
            return kind
    return None


def mask(value: str) -> str:
    """Describe a secret without revealing any of it."""
    return f"value masked, {len(value)} characters"


def format_location(loc: Sequence[str | int]) -> str:
    """Render a path into a JSON document as ``fields[2].patterns[0]`` or ``vocabulary["A.O. Smith"]``.

    Args:
        loc: keys and list indexes from the document root; pydantic's ``"[key]"`` marker is kept as is.

    Returns:
        The dotted path, empty for the root.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += part
        elif _IDENTIFIER.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _env_name_for(parts: Sequence[str]) -> str:
    return "_".join(parts).upper() or "SECRET"


def find_literal_secrets(data: object, file: str) -> list[ConfigProblem]:
    """Find every literal secret in a parsed JSON document.

    Args:
        data: the document as returned by :func:`json.loads`.
        file: the file name to put in each problem.

    Returns:
        One problem per offending value (location = path to it), empty when the document is clean.
    """
    problems: list[ConfigProblem] = []
    _walk(data, [], None, False, file, problems)
    if problems:
        logger.debug("%s: %d literal secret(s) found", file, len(problems))
    return problems


def _walk(
    node: object,
    loc: list[str | int],
    key: str | None,
    under_secret: bool,
    file: str,
    problems: list[ConfigProblem],
) -> None:
    if isinstance(node, dict):
        for child_key, child in node.items():
            child_loc = [*loc, child_key]
            kind = credential_kind(child_key)
            if kind is not None:
                problems.append(ConfigProblem(file, format_location(child_loc), f"key looks like {kind}"))
            if is_env_reference_key(child_key):
                _check_env_reference(child, child_loc, child_key, file, problems)
            else:
                secret = under_secret or is_secret_key(child_key)
                _walk(child, child_loc, child_key, secret, file, problems)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _walk(item, [*loc, i], key, under_secret, file, problems)
    elif isinstance(node, str) and node:
        where = format_location(loc)
        kind = credential_kind(node)
        if kind is not None:
            problems.append(
                ConfigProblem(
                    file,
                    where,
                    f"value looks like {kind} ({mask(node)}); never put credentials in config files: "
                    "set an environment variable and name it in a key ending in '_env'",
                )
            )
        elif under_secret and key is not None:
            problems.append(
                ConfigProblem(
                    file,
                    where,
                    f"{key!r} holds a literal secret ({mask(node)}); put it in an environment variable and "
                    f'reference it by name, e.g. "{key}_env": "{_env_name_for(name_parts(key))}"',
                )
            )


def _check_env_reference(
    value: object, loc: list[str | int], key: str, file: str, problems: list[ConfigProblem]
) -> None:
    if value is None or value == "":
        return
    if isinstance(value, str):
        if ENV_VAR_NAME.fullmatch(value):
            return
        kind = credential_kind(value)
        what = f"holds what looks like {kind}" if kind else "does not hold an environment variable name"
        problems.append(
            ConfigProblem(
                file,
                format_location(loc),
                f"{key!r} {what} ({mask(value)}); it must name the variable that holds the secret "
                f"(A-Z, 0-9, '_'), e.g. {_env_name_for(name_parts(key)[:-1])!r}",
            )
        )
    else:
        # Not a string: the model reports the type error; still look inside for credentials.
        _walk(value, loc, key, False, file, problems)


def resolve_secret(env_name: str, environ: Mapping[str, str] | None = None) -> str:
    """Read the secret held by an environment variable named in the config.

    Args:
        env_name: the variable name from a ``*_env`` key, e.g. ``SLACK_WEBHOOK_URL``.
        environ: where to look (default: the process environment).

    Returns:
        The secret value.

    Raises:
        SettingsError: the variable is not set or is empty.
    """
    value = (os.environ if environ is None else environ).get(env_name, "")
    if not value:
        raise SettingsError(
            f"environment variable {env_name} is not set; the config names it as holding a secret, "
            "export it before running this command"
        )
    return value
