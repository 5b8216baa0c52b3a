"""Pieces of the machine the reliability suite breaks on purpose: a throwaway PostgreSQL server it
can kill, and a small tmpfs it can fill."""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


class CapabilityMissing(Exception):
    """The machine cannot do what a test needs (the test skips, or fails under CI=true)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pg_bin_dir() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name),
        reverse=True,
    )
    if found:
        return found[0].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise CapabilityMissing(
        "no PostgreSQL server binaries (initdb) under /usr/lib/postgresql/*/bin or on PATH"
    )


def _children_of(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text_ = stat.read_text()
        except OSError:
            continue
        fields = text_[text_.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1] == str(pid):
            children.append(int(stat.parent.name))
    return children


def _alive(pid: int) -> bool:
    try:
        text_ = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text_[text_.rfind(")") + 2 :].split()[0] not in ("Z", "X")


class ThrowawayPostgres:
    """A PostgreSQL cluster of its own (initdb in a temp folder, its own port and socket folder).

    ``kill()`` SIGKILLs the postmaster (its backends then exit on their own, as when a server is
    lost); ``start()`` brings it back (crash recovery included).
    """

    def __init__(self) -> None:
        self.bin = _pg_bin_dir()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            try:
                pwd.getpwnam("postgres")
            except KeyError as exc:
                raise CapabilityMissing("running as root and there is no 'postgres' user for initdb") from exc
        # Under /tmp (not pytest's 0700 tmp_path): the postgres user must reach it; short, for the socket.
        self.dir = Path(tempfile.mkdtemp(prefix="lh-pg-", dir="/tmp"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = free_port()
        try:
            if self.as_postgres:
                shutil.chown(self.dir, "postgres", "postgres")
            self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _pg(self, tool: str, *args: str, timeout: float = 120) -> str:
        argv = [str(self.bin / tool), *args]
        if self.as_postgres:
            argv = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(argv)]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.dir
        )
        if done.returncode != 0:
            raise CapabilityMissing(
                f"{tool} failed ({done.returncode}): {(done.stderr or done.stdout).strip()}"
            )
        return done.stdout

    def start(self) -> None:
        pid = self.postmaster_pid()
        if pid is not None and not _alive(pid):
            # A killed postmaster may linger as a zombie (an init that does not reap): its pid still
            # "exists", and PostgreSQL would refuse the stale lock file. An operator removes it.
            (self.data / "postmaster.pid").unlink()
            for stale in (self.dir / f".s.PGSQL.{self.port}.lock", self.dir / f".s.PGSQL.{self.port}"):
                stale.unlink(missing_ok=True)
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "60", "start"
        )

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill(self) -> None:
        """SIGKILL the postmaster, then wait until its backends are gone too."""
        pid = self.postmaster_pid()
        if pid is None or not _alive(pid):
            return
        children = _children_of(pid)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(p) for p in [pid, *children]):
            time.sleep(0.05)
        for child in children:  # a backend still stuck after 15 s: it belongs to this server
            if _alive(child):
                os.kill(child, signal.SIGKILL)
        while any(_alive(p) for p in [pid, *children]):
            time.sleep(0.05)

    def create_database(self, name: str) -> str:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)

    def close(self) -> None:
        if self.postmaster_pid() is not None:
            try:
                self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop", timeout=30)
            except CapabilityMissing:
                self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Tmpfs:
    """A tmpfs of ``size`` mounted at ``path`` (needs root, and a sandbox that allows mount)."""

    def __init__(self, path: Path, size: str = "40m") -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise CapabilityMissing(
                f"cannot mount a tmpfs at {path} (`mount -t tmpfs` exited {done.returncode}: "
                f"{done.stderr.strip() or done.stdout.strip()}); the full-disk cases need root and mount rights"
            )
        self.filler = path / "filler.bin"

    def free_bytes(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self, leave: int) -> None:
        """Take all the free space but ``leave`` bytes with a filler file."""
        self.free_space()
        take = max(self.free_bytes() - leave, 0)
        chunk = b"\0" * (1 << 20)
        with open(self.filler, "wb", buffering=0) as handle:
            while take > 0:
                try:
                    written = handle.write(chunk[: min(take, len(chunk))])
                except OSError:  # full already: good enough
                    break
                take -= written or 0

    def free_space(self) -> None:
        self.filler.unlink(missing_ok=True)

    def close(self) -> None:
        done = subprocess.run(["umount", str(self.path)], capture_output=True, check=False)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, check=False)
