"""A local S3-compatible server for the object-storage tests: moto's server mode on 127.0.0.1.

One server per test process (session scope); each test gets a bucket of its own and the AWS
variables that point at the server (``s3_env``). The server is a dev dependency, so a missing one is
an install problem: the tests fail, they never skip.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from lakehouse.dataplane.s3 import S3Access

#: Credentials of the local server only (moto accepts any); never a real account's.
TEST_KEY_ID = "lakehouse-test-key"
TEST_SECRET = "lakehouse-test-secret-0123456789"  # noqa: S105 - a fake credential of a local test server


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a moto S3 server that runs for the test session."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request in a failure's log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


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
