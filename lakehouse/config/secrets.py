"""Keep secrets out of config files.

A config file never holds a secret; it names the environment variable that does, in a key ending in
``_env`` (``"url_env": "SLACK_WEBHOOK_URL"``). :func:`find_literal_secrets` runs over the raw parsed JSON,
before any model sees it, and reports:

- a value or key anywhere that looks like a credential (:func:`credential_kind`: the
  :data:`CREDENTIAL_PATTERNS`, a JWT, a URL or ``user:password@host`` login, an AWS key id, a base64
  ``user:password`` pair);
- a key ending in ``_env`` whose value is not an environment variable name (null or empty is fine), or
  is a name that is really a key (``AKIA...``);
- a login key (``smtp_user``) holding ``user:password``;
- a secret-named key (:func:`is_secret_key`) holding a literal string, or any string below such a key.

Messages never echo a secret: values are masked (:func:`mask`), and :func:`redact` /
:func:`redact_problem` mask every credential-looking or known secret value in a finished message, which the
loader applies to every problem it reports. :func:`resolve_secret` reads the referenced variable at run time.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from lakehouse.errors import ConfigProblem, LakehouseError, SettingsError

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
    (
        "a JSON Web Token (eyJ...)",
        re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*"),
    ),
    ("an AWS access key id (AKIA...)", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")),
    (
        "a PEM private key block",
        # Up to the END line (or the end of the text), so that masking a match hides the key too.
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|.*)",
            re.DOTALL,
        ),
    ),
    ("a URL with an embedded password", re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]+:[^\s/@]+@")),
    (
        "a login with a password ('user:password' before '@host')",
        # URI schemes written without "//" (mailto:ops@example.com) are addresses, not logins.
        re.compile(
            r"(?<![A-Za-z0-9._%+-])(?!(?:mailto|sips?|tel|urn|xmpp|news|im):)"
            r"[A-Za-z0-9._%+-]+:[^\s/:@]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
        ),
    ),
)
"""(description, pattern) of values that look like credentials wherever they appear.

:func:`credential_kind` also recognises a base64-encoded ``user:password`` pair (an HTTP Basic
credential), which no regular expression can tell from a word.
"""

BASIC_CREDENTIAL = "a base64-encoded user:password pair"
_BASE64_TOKEN = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{8,}={0,2}(?![A-Za-z0-9+/=])")
# A Basic credential decoded: a user name (an address, DOMAIN\user) and a password of printable ASCII.
# Base64 of JSON ('{"alg":...', a JWT segment) has a quote in its "user" part, so it does not count.
_USER_PASSWORD = re.compile(r"[A-Za-z0-9._%+@\\-]+:[!-~]+")

# An *_env value that is a valid name but reads like a key: 16+ capitals and digits, 4+ digits, no "_".
_TOKEN_LIKE_NAME = re.compile(r"(?=(?:[A-Z]*[0-9]){4})[A-Z0-9]{16,}")
_TOKEN_LIKE_NAME_KIND = "a random token (16+ capitals and digits, no '_')"

# A key whose last word is one of these holds a login, never "user:password".
_LOGIN_PARTS = frozenset({"user", "username", "login", "userinfo"})

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


class LiteralSecretError(LakehouseError, ValueError):
    """An ``*_env`` field holds a credential-looking value, not a variable name (a ValueError for pydantic).

    The loader's secret scan reports the same value with the fix, so the loader drops this duplicate.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(
            f"holds what looks like {kind}, not an environment variable name; put the secret in an "
            f"environment variable and name that variable here (A-Z, 0-9, '_')"
        )


def _basic_credential_spans(text: str) -> Iterator[tuple[int, int]]:
    for match in _BASE64_TOKEN.finditer(text):
        token = match.group()
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        if _USER_PASSWORD.fullmatch(decoded.decode("latin-1")):
            yield match.span()


def credential_spans(text: str) -> Iterator[tuple[str, int, int]]:
    """Yield ``(kind, start, end)`` for every part of ``text`` that looks like a credential.

    Args:
        text: any string: a config value, a key, a finished message.

    Yields:
        The matches, pattern by pattern in :data:`CREDENTIAL_PATTERNS` order, then the base64
        ``user:password`` pairs; matches of different patterns may overlap.
    """
    for kind, pattern in CREDENTIAL_PATTERNS:
        for match in pattern.finditer(text):
            yield kind, match.start(), match.end()
    for start, end in _basic_credential_spans(text):
        yield BASIC_CREDENTIAL, start, end


def credential_kind(value: str) -> str | None:
    """Return what a string looks like if it looks like a credential (e.g. "a GitHub token"), else None."""
    return next((kind for kind, _, _ in credential_spans(value)), None)


def _env_value_kind(value: str) -> str | None:
    if _TOKEN_LIKE_NAME.fullmatch(value):
        return credential_kind(value) or _TOKEN_LIKE_NAME_KIND
    return credential_kind(value)


def env_reference_problem(value: str) -> str | None:
    """Say why a string cannot be the value of an ``*_env`` key, or return None when it can.

    Args:
        value: the value of a key such as ``url_env``.

    Returns:
        ``"holds what looks like <kind>"`` for a credential (an ``AKIA...`` key is a valid name, but a
        key all the same), ``"does not hold an environment variable name"`` for anything else that is not
        a name, None for a name such as ``SLACK_WEBHOOK_URL``.
    """
    kind = _env_value_kind(value)
    if kind is not None:
        return f"holds what looks like {kind}"
    if not ENV_VAR_NAME.fullmatch(value):
        return "does not hold an environment variable name"
    return None


def check_env_var_name(value: str) -> str:
    """Pydantic after-validator of an ``*_env`` field: the name must not be a key (``AKIA...``).

    Raises:
        LiteralSecretError: the value looks like a credential rather than a variable name.
    """
    kind = _env_value_kind(value)
    if kind is not None:
        raise LiteralSecretError(kind)
    return value


def mask(value: str) -> str:
    """Describe a secret without revealing any of it."""
    return f"value masked, {len(value)} characters"


def masked(value: str) -> str:
    """The placeholder that stands for a secret inside a message: ``<value masked, 40 characters>``."""
    return f"<{mask(value)}>"


def quote(value: object) -> str:
    """Quote a user value for a message: ``repr(value)``, or :func:`masked` if it looks like a credential.

    Args:
        value: a value from a config file (any JSON type).

    Returns:
        Text to put in the message.
    """
    if isinstance(value, str) and credential_kind(value) is not None:
        return masked(value)
    return repr(value)


def redact(text: str, known: Iterable[str] = ()) -> str:
    """Mask every secret in a finished message.

    Args:
        text: a message, location or file name.
        known: literal secrets found in the config (see :class:`SecretScan`); each is masked in its quoted
            forms (``'x'``, ``"x"``) and, when 8 characters or longer, wherever it appears.

    Returns:
        The text with each known secret and each credential-looking part (:func:`credential_spans`)
        replaced by :func:`masked`.
    """
    forms: dict[str, str] = {}
    for value in known:
        if not value:
            continue
        for form in (repr(value), json.dumps(value), json.dumps(value, ensure_ascii=False)):
            forms[form] = value
        if len(value) >= 8:
            forms.setdefault(value, value)
    if forms:
        # One pass over the text, longest form first, so that a placeholder is never masked again.
        alternation = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
        text = re.sub(alternation, lambda m: masked(forms[m.group()]), text)
    out: list[str] = []
    position = 0
    for start, end in _merged(sorted((start, end) for _, start, end in credential_spans(text))):
        out.append(text[position:start])
        out.append(masked(text[start:end]))
        position = end
    out.append(text[position:])
    return "".join(out)


def _merged(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge sorted, possibly overlapping (start, end) spans, so that one placeholder covers each run."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def redact_problem(problem: ConfigProblem, known: Iterable[str] = ()) -> ConfigProblem:
    """Return ``problem`` with :func:`redact` applied to its file, location and message.

    Args:
        problem: a problem as found.
        known: literal secrets found in the config.

    Returns:
        A problem safe to print or log.
    """
    values = tuple(known)
    return ConfigProblem(
        redact(problem.file, values), redact(problem.location, values), redact(problem.message, values)
    )


def format_location(loc: Sequence[str | int]) -> str:
    """Render a path into a JSON document as ``fields[2].patterns[0]`` or ``vocabulary["A.O. Smith"]``.

    Args:
        loc: keys and list indexes from the document root; pydantic's ``"[key]"`` marker is kept as is.

    Returns:
        The dotted path, empty for the root; a key that looks like a credential shows as ``[<value masked,
        N characters>]``.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += part
        elif credential_kind(part) is not None:
            out += f"[{masked(part)}]"
        elif _IDENTIFIER.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _env_name_for(parts: Sequence[str]) -> str:
    return "_".join(parts).upper() or "SECRET"


@dataclass(frozen=True)
class SecretScan:
    """What :func:`scan_literal_secrets` found in one document."""

    problems: tuple[ConfigProblem, ...]
    """One problem per offending value, its location the path to it."""
    values: frozenset[str]
    """The offending strings themselves (values and keys), for :func:`redact` to mask in other messages."""


def scan_literal_secrets(data: object, file: str) -> SecretScan:
    """Find every literal secret in a parsed JSON document.

    Args:
        data: the document as returned by :func:`json.loads`.
        file: the file name to put in each problem.

    Returns:
        The problems (empty when the document is clean) and the secret strings found.
    """
    scan = _Scan(file)
    scan.walk(data, [], None, False)
    if scan.problems:
        logger.debug("%s: %d literal secret(s) found", file, len(scan.problems))
    return SecretScan(tuple(scan.problems), frozenset(scan.values))


def find_literal_secrets(data: object, file: str) -> list[ConfigProblem]:
    """Find every literal secret in a parsed JSON document (the problems of :func:`scan_literal_secrets`).

    Args:
        data: the document as returned by :func:`json.loads`.
        file: the file name to put in each problem.

    Returns:
        One problem per offending value (location = path to it), empty when the document is clean.
    """
    return list(scan_literal_secrets(data, file).problems)


def _is_login_key(name: str) -> bool:
    parts = name_parts(name)
    return bool(parts) and parts[-1] in _LOGIN_PARTS


class _Scan:
    """One walk over a document, collecting problems and the secret strings behind them."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[ConfigProblem] = []
        self.values: set[str] = set()

    def report(self, loc: list[str | int], secret: str, message: str) -> None:
        self.problems.append(ConfigProblem(self.file, format_location(loc), message))
        self.values.add(secret)

    def walk(self, node: object, loc: list[str | int], key: str | None, under_secret: bool) -> None:
        if isinstance(node, dict):
            for child_key, child in node.items():
                child_loc = [*loc, child_key]
                kind = credential_kind(child_key)
                if kind is not None:
                    self.report(child_loc, child_key, f"key looks like {kind}")
                if is_env_reference_key(child_key):
                    self.check_env_reference(child, child_loc, child_key)
                else:
                    self.walk(child, child_loc, child_key, under_secret or is_secret_key(child_key))
        elif isinstance(node, list):
            for i, item in enumerate(node):
                self.walk(item, [*loc, i], key, under_secret)
        elif isinstance(node, str) and node:
            self.check_string(node, loc, key, under_secret)

    def check_string(self, value: str, loc: list[str | int], key: str | None, under_secret: bool) -> None:
        kind = credential_kind(value)
        if kind is None and key is not None and _is_login_key(key) and _USER_PASSWORD.fullmatch(value):
            kind = "a user:password pair"
        if kind is not None:
            self.report(
                loc,
                value,
                f"value looks like {kind} ({mask(value)}); never put credentials in config files: "
                "set an environment variable and name it in a key ending in '_env'",
            )
        elif under_secret and key is not None:
            self.report(
                loc,
                value,
                f"{key!r} holds a literal secret ({mask(value)}); put it in an environment variable and "
                f'reference it by name, e.g. "{key}_env": "{_env_name_for(name_parts(key))}"',
            )

    def check_env_reference(self, value: object, loc: list[str | int], key: str) -> None:
        if value is None or value == "":
            return
        if not isinstance(value, str):
            # Not a string: the model reports the type error; still look inside for credentials.
            self.walk(value, loc, key, False)
            return
        what = env_reference_problem(value)
        if what is not None:
            self.report(
                loc,
                value,
                f"{key!r} {what} ({mask(value)}); it must name the variable that holds the secret "
                f"(A-Z, 0-9, '_'), e.g. {_env_name_for(name_parts(key)[:-1])!r}",
            )


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
