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
