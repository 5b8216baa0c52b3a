"""Objects under the data root, by key: a local folder or an S3-compatible bucket behind one interface.

A **key** is a root-relative posix path, as the control plane stores it (``acme/silver/dataset=jobs/
dt=2026-09-30/part-<run_id>-0.parquet``). Durable data (Parquet parts, manifests, kept artifacts,
rejects) is written once under a unique key and never renamed: the commit point is the control-plane
transaction, so a store needs no rename, only

- ``put_*(..., if_absent=True)``: create-only writes (a local hard link; on S3 a conditional
  ``If-None-Match: *`` PUT), so no writer ever replaces another's object;
- ``list``/``head``/``delete`` for ``gc`` and ``verify``, and a streamed ``sha256``;
- ``url``: what DuckDB and pyarrow open (an absolute path, or ``s3://bucket/prefix/key``).

:class:`LocalObjectStore` keeps today's on-disk layout and atomic-write protocol (lakehouse.dataplane.
atomic); :class:`S3ObjectStore` talks to S3 through boto3 (credentials and endpoint from the standard
AWS variables, see lakehouse.dataplane.s3).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Final, Protocol

from lakehouse.dataplane.atomic import CHECKSUM_PREFIX, atomic_output, ensure_dir, sha256_file
from lakehouse.errors import DataPlaneError
from lakehouse.processes import process_alive

if TYPE_CHECKING:
    from lakehouse.dataplane.s3 import S3Access

_CHUNK: Final = 1 << 20
#: S3's DeleteObjects takes at most this many keys per request.
_DELETE_BATCH: Final = 1000
#: One DeleteObjects request's keys (a module-level name: ``list`` is a method of the stores).
_Batch = list[dict[str, str]]
#: Local folders (a module-level name for the same reason).
_Folders = list[Path]
#: The folder of one upload in a worker's scratch: ``lakehouse-upload-<pid>-<random>`` (the pid of the
#: process writing it, so that gc can tell the folders of dead processes).
UPLOAD_PREFIX: Final = "lakehouse-upload-"
_UPLOAD_DIR: Final = re.compile(re.escape(UPLOAD_PREFIX) + r"([0-9]+)-[A-Za-z0-9_]+")


class ObjectExistsError(DataPlaneError):
    """A create-only write found an object under its key (objects are immutable)."""

    def __init__(self, url: str) -> None:
        super().__init__(f"{url} already exists and objects are immutable: write under a new key")
        self.url = url


class ObjectMissingError(DataPlaneError):
    """An object the caller expected is not there."""

    def __init__(self, url: str) -> None:
        super().__init__(f"{url} does not exist (removed by hand, or never written)")
        self.url = url


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime


def check_key(key: str) -> str:
    """``key`` when it is a plain relative posix path (no ``..``, no empty or absolute part)."""
    pure = PurePosixPath(key)
    if (
        not key
        or key != str(pure)
        or pure.is_absolute()
        or ".." in pure.parts
        or "\\" in key
        or "\x00" in key
    ):
        raise DataPlaneError(f"object key {key!r} is not a relative path below the data root")
    return key


class ObjectStore(Protocol):
    """What the data plane needs of the storage under its root (see the module docstring)."""

    def url(self, key: str) -> str:
        """What DuckDB or pyarrow opens for ``key``."""
        ...

    def put_file(self, local: Path, key: str, *, if_absent: bool = True) -> None:
        """Store the local file ``local`` under ``key``; ``if_absent``: refuse an existing object."""
        ...

    def new_file(self, key: str) -> contextlib.AbstractContextManager[Path]:
        """A local path to write a new object's bytes to; stored create-only under ``key`` when the
        block ends without an error (nothing is stored otherwise)."""
        ...

    def put_bytes(self, key: str, data: bytes, *, if_absent: bool = True) -> None:
        """Store ``data`` under ``key``; ``if_absent``: refuse an existing object."""
        ...

    def get_bytes(self, key: str) -> bytes:
        """The content of ``key`` (ObjectMissingError when there is none)."""
        ...

    def sha256(self, key: str) -> str:
        """``sha256:<hex>`` of ``key``'s content, read as a stream."""
        ...

    def head(self, key: str) -> ObjectInfo | None:
        """Size and time of ``key``, or None when there is no such object."""
        ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (a folder ends with ``/``), in key order."""
        ...

    def delete(self, keys: Iterable[str]) -> None:
        """Remove these objects; a missing one is no error."""
        ...

    def stale_uploads(self) -> _Folders:
        """Local folders that writers killed mid-write left behind, for gc to remove."""
        ...


class LocalObjectStore:
    """Objects as files under a local folder, written through lakehouse.dataplane.atomic."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root.joinpath(*PurePosixPath(check_key(key)).parts)

    def url(self, key: str) -> str:
        return str(self.path(key))

    @contextlib.contextmanager
    def _output(self, key: str, *, if_absent: bool) -> Iterator[Path]:
        """The temporary file next to ``key``'s target (atomic.atomic_output); a create-only write
        that finds the target there raises ObjectExistsError."""
        target = self.path(key)
        try:
            with atomic_output(target, overwrite=not if_absent) as tmp:
                yield tmp
        except DataPlaneError as exc:
            if if_absent and target.exists() and not isinstance(exc, ObjectExistsError):
                raise ObjectExistsError(str(target)) from exc
            raise

    def put_file(self, local: Path, key: str, *, if_absent: bool = True) -> None:
        with self._output(key, if_absent=if_absent) as tmp:
            shutil.copyfile(local, tmp)

    def new_file(self, key: str) -> contextlib.AbstractContextManager[Path]:
        return self._output(key, if_absent=True)  # next to the target: published by one link

    def put_bytes(self, key: str, data: bytes, *, if_absent: bool = True) -> None:
        with self._output(key, if_absent=if_absent) as tmp:
            tmp.write_bytes(data)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectMissingError(self.url(key)) from None
        except OSError as exc:
            raise DataPlaneError(f"cannot read {self.url(key)}: {exc.strerror or exc}") from exc

    def sha256(self, key: str) -> str:
        path = self.path(key)
        if not path.is_file():
            raise ObjectMissingError(str(path))
        return sha256_file(path)

    def head(self, key: str) -> ObjectInfo | None:
        path = self.path(key)
        if not path.is_file():
            return None
        stat = path.stat()
        return ObjectInfo(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        folder = prefix.rpartition("/")[0]  # the folder to walk; the rest of the prefix filters
        base = self.root.joinpath(*PurePosixPath(folder).parts) if folder else self.root
        if not base.is_dir():
            return
        found = []
        for path in base.rglob("*"):
            if path.is_file() and not path.is_symlink():
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    found.append(key)
        for key in sorted(found):
            info = self.head(key)
            if info is not None:
                yield info

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.path(key).unlink(missing_ok=True)

    def stale_uploads(self) -> _Folders:
        """None: a killed writer leaves a temporary file next to its target, which gc finds by name."""
        return []


class S3ObjectStore:
    """Objects in an S3-compatible bucket under ``prefix``, through boto3."""

    def __init__(self, bucket: str, prefix: str, access: S3Access, scratch: Path | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.access = access
        #: where new objects are written before their upload (a local folder of this worker)
        self.scratch = scratch
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self.access.boto3_client()
        return self._client

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def _call(self, what: str, url: str, fn: Any, **kwargs: Any) -> Any:
        """One S3 request; its failure as a DataPlaneError naming the object, never a credential."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise ObjectExistsError(url) from None
            if code in ("NoSuchKey", "404", "NotFound"):
                raise ObjectMissingError(url) from None
            raise DataPlaneError(f"S3 {what} of {url} failed: {code or exc}") from None
        except BotoCoreError as exc:
            raise DataPlaneError(
                f"S3 {what} of {url} failed: {exc} (endpoint {self.access.endpoint_label()})"
            ) from None

    def put_bytes(self, key: str, data: bytes, *, if_absent: bool = True) -> None:
        condition = {"IfNoneMatch": "*"} if if_absent else {}
        self._call("write", self.url(key), self.client.put_object, Key=self._key(key), Body=data, **condition)

    def put_file(self, local: Path, key: str, *, if_absent: bool = True) -> None:
        condition = {"IfNoneMatch": "*"} if if_absent else {}
        with open(local, "rb") as body:
            self._call(
                "write", self.url(key), self.client.put_object, Key=self._key(key), Body=body, **condition
            )

    @contextlib.contextmanager
    def new_file(self, key: str) -> Iterator[Path]:
        self._key(key)
        if self.scratch is not None:
            ensure_dir(self.scratch)
        with tempfile.TemporaryDirectory(prefix=f"{UPLOAD_PREFIX}{os.getpid()}-", dir=self.scratch) as folder:
            local = Path(folder) / PurePosixPath(key).name
            yield local
            if not local.is_file():
                raise DataPlaneError(f"nothing was written for {self.url(key)}")
            self.put_file(local, key, if_absent=True)

    def stale_uploads(self) -> _Folders:
        """Upload folders in the scratch folder whose process is gone (a killed writer leaves its
        folder behind: ``TemporaryDirectory`` cleans up only when the process lives on)."""
        if self.scratch is None or not self.scratch.is_dir():
            return []
        stale = []
        for folder in sorted(self.scratch.iterdir()):
            match = _UPLOAD_DIR.fullmatch(folder.name)
            if match is not None and folder.is_dir() and not folder.is_symlink():
                if not process_alive(int(match.group(1))):
                    stale.append(folder)
        return stale

    def get_bytes(self, key: str) -> bytes:
        response = self._call("read", self.url(key), self.client.get_object, Key=self._key(key))
        return bytes(response["Body"].read())

    def sha256(self, key: str) -> str:
        response = self._call("read", self.url(key), self.client.get_object, Key=self._key(key))
        digest = hashlib.sha256()
        for block in response["Body"].iter_chunks(_CHUNK):
            digest.update(block)
        return CHECKSUM_PREFIX + digest.hexdigest()

    def head(self, key: str) -> ObjectInfo | None:
        try:
            response = self._call("head", self.url(key), self.client.head_object, Key=self._key(key))
        except ObjectMissingError:
            return None
        return ObjectInfo(key, int(response["ContentLength"]), response["LastModified"])

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        if ".." in PurePosixPath(prefix).parts or prefix.startswith("/"):
            raise DataPlaneError(f"object prefix {prefix!r} is not a relative path below the data root")
        full = (f"{self.prefix}/" if self.prefix else "") + prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full)
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    yield ObjectInfo(str(item["Key"])[strip:], int(item["Size"]), item["LastModified"])
        except Exception as exc:  # botocore's errors, raised lazily by the paginator
            raise DataPlaneError(f"S3 listing of s3://{self.bucket}/{full} failed: {exc}") from None

    def delete(self, keys: Iterable[str]) -> None:
        batch: _Batch = []
        for key in keys:
            batch.append({"Key": self._key(key)})
            if len(batch) == _DELETE_BATCH:
                self._delete(batch)
                batch = []
        if batch:
            self._delete(batch)

    def _delete(self, batch: _Batch) -> None:
        url = f"s3://{self.bucket}/{batch[0]['Key']}"
        response = self._call(
            "delete", url, self.client.delete_objects, Delete={"Objects": batch, "Quiet": True}
        )
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            raise DataPlaneError(
                f"S3 delete of s3://{self.bucket}/{first.get('Key')} failed: {first.get('Code')} "
                f"({len(errors)} object(s) not removed)"
            )
