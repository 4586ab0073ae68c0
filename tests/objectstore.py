"""A local S3-compatible server for the tests: moto in server mode, in its own process on a
loopback port. boto3 talks HTTP to it, as to any object store; nothing is mocked in the tests'
process. Each test gets a bucket of its own."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from dmp.adapters.s3 import S3BlobStore
from dmp.settings import S3Settings

REGION = "eu-west-3"
# moto accepts any credentials; explicit ones keep the tests away from the machine's own.
ACCESS_KEY, SECRET_KEY = "dmp-test", "dmp-test-secret"


@dataclass
class ObjectServer:
    endpoint: str
    process: subprocess.Popen[bytes]
    _client: Any = None

    def settings(self, bucket: str, prefix: str = "") -> S3Settings:
        return S3Settings(
            bucket=bucket,
            prefix=prefix,
            endpoint_url=self.endpoint,
            region=REGION,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            addressing_style="path",
        )

    def env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """The operator's settings for this bucket (``dmp`` subprocesses)."""
        return {
            "DMP_BLOB_URL": f"s3://{bucket}/{prefix}",
            "DMP_S3_ENDPOINT_URL": self.endpoint,
            "DMP_S3_REGION": REGION,
            "DMP_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "DMP_S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "DMP_S3_ADDRESSING_STYLE": "path",
        }

    def new_bucket(self, *, versioned: bool = False) -> str:
        bucket = f"dmp-{uuid.uuid4().hex[:20]}"
        client = self.client()
        client.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        if versioned:
            client.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
            )
        return bucket

    def client(self) -> Any:
        """One boto3 client for the run (making one takes a good second; they are thread-safe)."""
        if self._client is None:
            self._client = S3BlobStore.from_settings(self.settings("unused")).client
        return self._client

    def store(self, bucket: str, prefix: str = "", **sizes: int) -> S3BlobStore:
        return S3BlobStore(self.client(), bucket, prefix, **sizes)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def object_server() -> Iterator[ObjectServer]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(endpoint, process)
        yield ObjectServer(endpoint, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(endpoint: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, "the S3 server (moto) exited"
        try:
            httpx.get(f"{endpoint}/moto-api/", timeout=2)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the S3 server (moto) never answered"
            time.sleep(0.1)


def object_names(server: ObjectServer, bucket: str) -> list[str]:
    answer = server.client().list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in answer.get("Contents", []))


def object_bytes(server: ObjectServer, bucket: str, name: str) -> bytes:
    body: bytes = server.client().get_object(Bucket=bucket, Key=name)["Body"].read()
    return body


def incomplete_uploads(server: ObjectServer, bucket: str) -> list[str]:
    answer = server.client().list_multipart_uploads(Bucket=bucket)
    return [item["Key"] for item in answer.get("Uploads", [])]


def versions(server: ObjectServer, bucket: str) -> list[tuple[str, str]]:
    """Every version and delete marker in the bucket, as (key, version id)."""
    answer = server.client().list_object_versions(Bucket=bucket)
    found = answer.get("Versions", []) + answer.get("DeleteMarkers", [])
    return sorted((item["Key"], item["VersionId"]) for item in found)
