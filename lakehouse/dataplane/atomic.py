"""Atomic single-file writes, appends to append-only logs, and file checksums.

A file is written under a temporary name in its final directory (``.tmp-<uuid>-<final name>``),
flushed to disk, then moved onto its final name in one step and the directory entry flushed too, so
a reader sees either the old file, or the complete new one, never a partial write. A crash leaves at
most a ``.tmp-`` file behind, which garbage collection finds with :func:`is_temp_name`.

An append-only log (a JSONL file several processes add to, never rewritten whole: a rewrite would
lose what others append meanwhile) takes whole lines through :func:`append_line`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from lakehouse.errors import DataPlaneError

logger = logging.getLogger(__name__)

TEMP_PREFIX: Final = ".tmp-"
CHECKSUM_PREFIX: Final = "sha256:"
_CHUNK: Final = 1 << 20
_MAX_NAME: Final = 255
_HEX64: Final = re.compile(r"[0-9a-f]{64}")


def is_temp_name(name: str) -> bool:
    """Return True when ``name`` (a file name, not a path) is a temporary file of :func:`atomic_output`."""
    return name.startswith(TEMP_PREFIX)


def temp_path_for(path: Path) -> Path:
    """Return a fresh temporary path next to ``path``: ``.tmp-<uuid>-<final name>``."""
    prefix = f"{TEMP_PREFIX}{uuid.uuid4().hex}-"
    return path.with_name(prefix + path.name[: _MAX_NAME - len(prefix)])


def fsync_dir(path: Path) -> None:
    """Flush the entries of directory ``path`` to disk (a no-op where the OS cannot open directories)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:  # Windows cannot open a directory
        logger.debug("cannot open directory %s to fsync it: %s", path, exc)
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    """Create directory ``path`` and its missing parents, flushing each new entry to disk."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        fsync_dir(directory.parent)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _publish(tmp: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        # link() fails when the target exists, so a concurrent writer cannot be overwritten.
        os.link(tmp, path)
    except FileExistsError:
        raise DataPlaneError(
            f"{path} already exists and files are immutable: write under a new name"
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        logger.debug("hard links unsupported for %s (%s); falling back to exists check", path, exc)
        if path.exists():
            raise DataPlaneError(
                f"{path} already exists and files are immutable: write under a new name"
            ) from None
        os.replace(tmp, path)
        return
    tmp.unlink()


def atomic_symlink(link: Path, target: str | Path) -> None:
    """Point the symbolic link ``link`` at ``target`` atomically (a new link renamed over the old)."""
    tmp = temp_path_for(link)
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(link.parent)


@contextlib.contextmanager
def atomic_output(path: Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; publish it onto ``path`` atomically on success.

    The temporary file lives in the same directory as ``path`` (created if missing) and is named
    ``.tmp-<uuid>-<final name>``. On normal exit it is fsynced, moved onto ``path`` and the directory
    is fsynced; if the block raises, the temporary file is removed and the exception propagates.

    Args:
        path: final path of the file.
        overwrite: when False, refuse to replace an existing ``path`` (checked atomically where the
            file system supports hard links).

    Yields:
        The temporary path to write to.

    Raises:
        DataPlaneError: the block wrote nothing, or ``overwrite`` is False and ``path`` exists.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise DataPlaneError(f"{path} already exists and files are immutable: write under a new name")
    ensure_dir(path.parent)
    tmp = temp_path_for(path)
    try:
        yield tmp
        if not tmp.is_file():
            raise DataPlaneError(f"nothing was written to the temporary file for {path}")
        _fsync_file(tmp)
        _publish(tmp, path, overwrite)
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    logger.debug("published %s", path)


def atomic_write_bytes(path: Path, data: bytes, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`)."""
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str, *, overwrite: bool = True, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically, encoded as ``encoding`` with ``\\n`` line endings kept."""
    atomic_write_bytes(path, text.encode(encoding), overwrite=overwrite)


def append_line(path: Path, line: bytes, unless: Callable[[bytes], bool] | None = None) -> bool:
    """Append one complete ``line`` (ending in a newline) to the append-only log ``path``.

    The file (and its folder) is created if needed; the line is written on a descriptor opened
    ``O_APPEND`` under an exclusive ``flock`` of the file, then fsynced, so appenders on one machine
    take turns and a reader sees whole lines. A line torn by a crash (no final newline) is closed
    first, so this one starts on a line of its own.

    Args:
        unless: called under the lock with the file's content; when it returns True nothing is
            appended (e.g. a line with the same idempotency key is there already).

    Returns:
        Whether the line was appended.
    """
    if not line.endswith(b"\n"):
        raise ValueError("append_line writes whole lines: end the line with a newline")
    ensure_dir(path.parent)
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by close
        size = os.fstat(fd).st_size
        if unless is not None:
            content = os.pread(fd, size, 0) if size else b""
            if unless(content):
                return False
            last = content[-1:]
        else:
            last = os.pread(fd, 1, size - 1) if size else b""
        data = line if last in (b"", b"\n") else b"\n" + line
        view = memoryview(data)
        while view:  # a short write (a signal, a nearly full disk): finish the line
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)
    return True


def sha256_file(path: Path) -> str:
    """Return the SHA-256 of the file at ``path`` as ``sha256:<hex>`` (same hex as ``sha256sum``).

    Raises:
        DataPlaneError: the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise DataPlaneError(f"cannot read {path} to checksum it: {exc.strerror or exc}") from exc
    return CHECKSUM_PREFIX + digest.hexdigest()


def hex_of(checksum: str) -> str:
    """Return the hex digest of a ``sha256:<hex>`` checksum.

    Raises:
        DataPlaneError: ``checksum`` is not ``sha256:`` followed by 64 lowercase hex digits.
    """
    if not checksum.startswith(CHECKSUM_PREFIX) or _HEX64.fullmatch(checksum[len(CHECKSUM_PREFIX) :]) is None:
        raise DataPlaneError(f"malformed checksum {checksum!r}: expected 'sha256:' and 64 hex digits")
    return checksum[len(CHECKSUM_PREFIX) :]
