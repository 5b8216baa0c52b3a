"""S3-compatible object storage: ``s3://`` data-root URIs, access from the environment, DuckDB's httpfs.

Credentials and endpoint come only from the standard AWS variables, read when a command starts:
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` (``AWS_SESSION_TOKEN``), ``AWS_REGION`` (or
``AWS_DEFAULT_REGION``), and ``AWS_ENDPOINT_URL`` for an S3-compatible server (MinIO, moto, ...).
They become a boto3 client and a **temporary** DuckDB secret on each connection (in memory: never in a
DuckDB file, a manifest, a log or an error message). DuckDB's httpfs extension is loaded from the
``duckdb-extension-httpfs`` wheel's own file: nothing is downloaded or installed in ``~/.duckdb``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlparse

from lakehouse.dataplane.sql import quote_literal
from lakehouse.errors import DataPlaneError, SettingsError

if TYPE_CHECKING:
    import duckdb

#: What a bucket name may be (S3's rules, path-style addressing).
_BUCKET: Final = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
#: Glob characters DuckDB would expand in an ``s3://`` path (which would then need ListBucket).
_GLOB: Final = re.compile(r"[*?\[\]{}]")
SECRET_NAME: Final = "lakehouse_s3"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` as (bucket, prefix without slashes at either end).

    Raises:
        SettingsError: not an ``s3://`` URI, a bucket name S3 refuses, or a prefix with ``..``,
            glob characters or an empty part.
    """
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise SettingsError(f"{uri!r} is not an S3 URI: expected s3://bucket/prefix")
    if not _BUCKET.fullmatch(parsed.netloc) or ".." in parsed.netloc:
        raise SettingsError(
            f"{parsed.netloc!r} in {uri!r} is not a valid bucket name: 3-63 lowercase letters, digits, '.' and '-'"
        )
    if parsed.query or parsed.fragment or parsed.params:
        raise SettingsError(f"{uri!r}: an S3 data root takes no query or fragment")
    prefix = parsed.path.strip("/")
    parts = prefix.split("/") if prefix else []
    if any(p in ("", ".", "..") for p in parts) or _GLOB.search(prefix) or "\\" in prefix:
        raise SettingsError(
            f"prefix {prefix!r} of {uri!r}: use plain folder names (no '..', empty parts or glob characters)"
        )
    return parsed.netloc, prefix


@dataclass(frozen=True)
class S3Access:
    """How to reach S3: from the AWS variables (:meth:`from_env`); the secret never shows in a repr."""

    key_id: str = field(repr=False)
    secret: str = field(repr=False)
    region: str
    endpoint_url: str | None = None
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> S3Access:
        """Read the AWS variables.

        Raises:
            SettingsError: a required variable is missing or the endpoint is not an http(s) URL
                (the message names the variables, never a value but the endpoint's).
        """
        env = os.environ if env is None else env
        missing = [name for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not env.get(name)]
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if not region:
            missing.append("AWS_REGION")
        if missing:
            raise SettingsError(
                f"an s3:// data root needs {', '.join(missing)} in the environment "
                "(and AWS_ENDPOINT_URL for an S3-compatible server)"
            )
        endpoint = env.get("AWS_ENDPOINT_URL") or None
        if endpoint is not None:
            parsed = urlparse(endpoint)
            if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path.strip("/"):
                raise SettingsError(
                    f"AWS_ENDPOINT_URL={endpoint!r}: expected http(s)://host[:port] (no path)"
                )
        return cls(
            key_id=env["AWS_ACCESS_KEY_ID"],
            secret=env["AWS_SECRET_ACCESS_KEY"],
            region=region or "",
            endpoint_url=endpoint,
            session_token=env.get("AWS_SESSION_TOKEN") or None,
        )

    def endpoint_label(self) -> str:
        """Where requests go, for messages: the endpoint's host, or AWS S3 and the region."""
        if self.endpoint_url:
            return urlparse(self.endpoint_url).netloc
        return f"AWS S3 ({self.region})"

    def boto3_client(self) -> Any:
        """A boto3 S3 client: path-style on a custom endpoint, bounded retries and timeouts."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
            aws_session_token=self.session_token,
            region_name=self.region,
            config=Config(
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
                s3={"addressing_style": "path" if self.endpoint_url else "auto"},
            ),
        )

    def duckdb_secret_sql(self, name: str = SECRET_NAME) -> str:
        """The ``CREATE TEMPORARY SECRET`` statement of this access (holds the secret: never log it)."""
        options = {
            "KEY_ID": self.key_id,
            "SECRET": self.secret,
            "REGION": self.region,
        }
        if self.session_token:
            options["SESSION_TOKEN"] = self.session_token
        settings = ""
        if self.endpoint_url:
            parsed = urlparse(self.endpoint_url)
            options["ENDPOINT"] = parsed.netloc
            options["URL_STYLE"] = "path"
            settings = f", USE_SSL {'true' if parsed.scheme == 'https' else 'false'}"
        listed = ", ".join(f"{key} {quote_literal(value)}" for key, value in options.items())
        return f"CREATE OR REPLACE TEMPORARY SECRET {name} (TYPE s3, {listed}{settings})"

    def scrub(self, text: str) -> str:
        """``text`` with the key id, the secret and the token replaced by ``***``."""
        for value in (self.secret, self.session_token, self.key_id):
            if value:
                text = text.replace(value, "***")
        return text


def httpfs_extension_path() -> Path:
    """The httpfs extension file the ``duckdb-extension-httpfs`` wheel ships for this DuckDB.

    Raises:
        DataPlaneError: the wheel is not installed, or not for this DuckDB version.
    """
    import duckdb

    version = duckdb.__version__
    try:
        base = resources.files("duckdb_extension_httpfs")
    except ModuleNotFoundError:
        raise DataPlaneError(
            f"an s3:// data root needs DuckDB's httpfs extension: pip install 'duckdb-extension-httpfs=={version}'"
        ) from None
    path = Path(str(base)) / "extensions" / f"v{version}" / "httpfs.duckdb_extension"
    if not path.is_file():
        raise DataPlaneError(
            f"{path} is missing: the installed duckdb-extension-httpfs is not for DuckDB {version} "
            f"(pip install 'duckdb-extension-httpfs=={version}')"
        )
    return path


def enable_s3(con: duckdb.DuckDBPyConnection, access: S3Access) -> None:
    """Load httpfs on ``con`` and give it ``access`` as a temporary (in-memory) secret.

    Raises:
        DataPlaneError: DuckDB refused the extension or the secret (the message holds no credential).
    """
    import duckdb

    con.execute(f"LOAD {quote_literal(str(httpfs_extension_path()))}")
    try:
        con.execute(access.duckdb_secret_sql())
    except duckdb.Error as exc:
        raise DataPlaneError(
            f"DuckDB refused the S3 secret made from the AWS_* variables: {access.scrub(str(exc))}"
        ) from None
