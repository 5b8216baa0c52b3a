"""A local S3-compatible server for the object-storage tests: moto's server mode on 127.0.0.1.

One server process per test process (session scope); each test gets a bucket of its own and the AWS
variables that point at the server (``s3_env``). The server is a dev dependency, so a missing one is
an install problem: the tests fail, they never skip.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from lakehouse.dataplane.s3 import S3Access

#: Credentials of the local server only (moto accepts any); never a real account's.
TEST_KEY_ID = "lakehouse-test-key"
TEST_SECRET = "lakehouse-test-secret-0123456789"  # noqa: S105 - a fake credential of a local test server


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a moto S3 server that runs for the test session, in a process of
    its own: the tests read the bucket through DuckDB in this process while the CLI's processes write
    to it, and a server on a thread of this interpreter answered such reads late enough, on a loaded
    machine, for httpfs to time out. A server that does not start fails the tests."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/", timeout=2):
                    break
            except urllib.error.HTTPError:  # it answers
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the moto S3 server did not start: {log.read_text(errors='replace')[-800:]}")
                time.sleep(0.2)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The AWS variables of the local server, set in the environment, and a fresh bucket's name
    under ``LAKEHOUSE_TEST_BUCKET``."""
    env = {
        "AWS_ACCESS_KEY_ID": TEST_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    bucket = f"lakehouse-{uuid.uuid4().hex[:12]}"
    S3Access.from_env(env).boto3_client().create_bucket(Bucket=bucket)
    return env | {"LAKEHOUSE_TEST_BUCKET": bucket}


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.s3_server [--port N] [--bucket NAME]`` (``make s3-server``): the same local
    server for trying an ``s3://`` data root by hand, with a bucket made, until Ctrl-C."""
    import argparse
    import threading

    from moto.server import ThreadedMotoServer

    parser = argparse.ArgumentParser(prog="python -m tests.s3_server", description=main.__doc__)
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--bucket", default="lake")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    env = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{args.port}",
    }
    S3Access.from_env(env).boto3_client().create_bucket(Bucket=args.bucket)
    print(
        f"local S3 server on 127.0.0.1:{args.port} with bucket {args.bucket!r} (Ctrl-C stops it); in another shell:"
    )
    print("  export " + " ".join(f"{k}={v}" for k, v in env.items()))
    print(f"  export LAKEHOUSE_DATA_ROOT=s3://{args.bucket}/demo", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
