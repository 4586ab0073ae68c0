"""The content store on an S3-compatible object store (SPEC §8): several servers share it.

Same protocol as :class:`dmp.adapters.blobs.LocalBlobStore`, same guarantees, by S3's means:

- **All or nothing.** A content that fits in one part is one ``PutObject`` (atomic on S3). A
  larger one is a multipart upload, invisible until ``CompleteMultipartUpload``; on any failure
  it is aborted, so nothing is left but, if the process dies, an incomplete upload, which
  :meth:`S3BlobStore.purge_temp` (and the bucket's lifecycle rule, docs/adr/0003) removes.
- **Streamed.** An upload holds a part (``part_size``, 5 MiB) in memory, in three copies at
  most while one is sent, whatever the content's size; a read is a series of ``Range`` GETs of
  ``window`` bytes each, streamed in 64 KiB pieces, every one after the first bound to the
  object's ``ETag`` (``If-Match``), so a read never mixes two versions of a key.
- **Deletion deletes.** Every version of the key goes, delete markers included: on a bucket
  with versioning, a plain ``DeleteObject`` would only hide the content.

What is stored is ciphertext already (``crypto.encrypt_stream``). Keys are those of the local
store (``"<dmp_id>/<name>"``, checked by :func:`parse_key`) under the configured prefix.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from dmp.adapters.blobs import READ_SIZE, StorageUnavailable, parse_key
from dmp.domain.inputs import ascii_int
from dmp.errors import InvalidInput, NotFound
from dmp.settings import S3Settings

MIB = 1024 * 1024
PART_SIZE = 5 * MIB  # S3's smallest part (all but the last): the least memory per upload
WINDOW = 8 * MIB  # bytes asked by each ranged GET; a multiple of READ_SIZE
DELETE_BATCH = 1000  # the most DeleteObjects takes at once
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
# What boto3 raises: an answer of the service, or a failure to get one (network, timeout).
_FAILURES = (BotoCoreError, ClientError)


class S3BlobStore:
    """Objects ``<prefix><dmp_id>/<name>`` in one bucket. ``client`` is a boto3 S3 client."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        part_size: int = PART_SIZE,
        window: int = WINDOW,
    ) -> None:
        if part_size < 5 * MIB or window % READ_SIZE:
            raise ValueError("part_size ≥ 5 MiB, window a multiple of READ_SIZE")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size
        self.window = window

    @classmethod
    def from_settings(cls, settings: S3Settings) -> S3BlobStore:
        """A client from the settings; credentials not given there come from the usual AWS
        chain (``AWS_ACCESS_KEY_ID``…, shared files, the instance's role)."""
        import boto3
        from botocore.config import Config

        config = Config(
            region_name=settings.region,
            connect_timeout=10,
            read_timeout=60,
            retries={"max_attempts": 5, "mode": "standard"},
            s3={"addressing_style": settings.addressing_style},
        )
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.endpoint_url,
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            config=config,
        )
        return cls(client, settings.bucket, settings.prefix)

    # --- writing ------------------------------------------------------------------------------

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        name = self._name(key)
        parts = _parts(chunks, self.part_size)
        head = list(itertools.islice(parts, 2))
        if len(head) < 2:  # one part at most: one PUT, atomic
            body = head[0] if head else b""
            _call(self.client.put_object, Bucket=self.bucket, Key=name, Body=body)
            return len(body)
        answer = _call(self.client.create_multipart_upload, Bucket=self.bucket, Key=name)
        upload = answer["UploadId"]
        try:
            return self._upload(name, upload, _drained(head, parts))
        except BaseException:
            self._abort(name, upload)
            raise

    def _upload(self, name: str, upload: str, parts: Iterator[bytes]) -> int:
        done: list[dict[str, Any]] = []
        size = 0
        for number, body in enumerate(parts, start=1):
            answer = _call(
                self.client.upload_part,
                Bucket=self.bucket,
                Key=name,
                UploadId=upload,
                PartNumber=number,
                Body=body,
            )
            done.append(_part(number, answer))
            size += len(body)
            del body  # not held while the next part is gathered
        _call(
            self.client.complete_multipart_upload,
            Bucket=self.bucket,
            Key=name,
            UploadId=upload,
            MultipartUpload={"Parts": done},
        )
        return size

    def _abort(self, name: str, upload: str) -> None:
        """Best effort: an upload left behind is invisible, and purged later."""
        with contextlib.suppress(*_FAILURES):  # the failure to report is the caller's
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload)

    # --- reading ------------------------------------------------------------------------------

    def open(self, key: str) -> Iterator[bytes]:
        name = self._name(key)
        first = self._get(name, 0, None)  # NotFound now, not when the stream is first read
        return _pieces(self._windows(name, first))

    def _windows(self, name: str, first: dict[str, Any]) -> Iterator[bytes]:
        total, etag = _total(first), first["ETag"]
        offset: int = first["ContentLength"]
        yield from _body(first)
        while offset < total:
            answer = self._get(name, offset, etag)
            offset += answer["ContentLength"]
            yield from _body(answer)

    def _get(self, name: str, offset: int, etag: str | None) -> dict[str, Any]:
        extra = {"IfMatch": etag} if etag else {}
        span = f"bytes={offset}-{offset + self.window - 1}"
        try:
            answer: dict[str, Any] = self.client.get_object(
                Bucket=self.bucket, Key=name, Range=span, **extra
            )
        except _FAILURES as error:
            if _code(error) == "InvalidRange" and offset == 0:
                return self._empty(name)  # a ranged GET of an empty object is refused
            raise _translated(error) from error
        return answer

    def _empty(self, name: str) -> dict[str, Any]:
        head = _call(self.client.head_object, Bucket=self.bucket, Key=name)
        return {"ETag": head["ETag"], "ContentLength": 0, "ContentRange": "bytes */0"}

    def exists(self, key: str) -> bool:
        name = self._name(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=name)
        except _FAILURES as error:
            if _code(error) in _MISSING:
                return False
            raise _translated(error) from error
        return True

    def list_older_than(self, cutoff: datetime) -> Iterator[str]:
        if cutoff.tzinfo is None:
            raise InvalidInput("La date limite doit porter un fuseau horaire.")
        for item in self._listed("list_objects_v2", "Contents", self.prefix):
            key = item["Key"][len(self.prefix) :]
            if item["LastModified"] < cutoff and _is_key(key):
                yield key

    def stored_keys(self) -> Iterator[str]:
        for item in self._listed("list_objects_v2", "Contents", self.prefix):
            key = item["Key"][len(self.prefix) :]
            if _is_key(key):
                yield key

    # --- deleting -----------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        name = self._name(key)
        self._delete_versions(name, exact=True)

    def delete_prefix(self, dmp_id: UUID) -> int:
        return self._delete_versions(f"{self.prefix}{dmp_id}/", exact=False)

    def _delete_versions(self, prefix: str, *, exact: bool) -> int:
        """Delete every version and delete marker under ``prefix`` (of the key ``prefix`` only,
        when ``exact``); returns how many keys had a version."""
        keys: set[str] = set()
        batch: list[dict[str, str]] = []
        for kind in ("Versions", "DeleteMarkers"):
            for item in self._listed("list_object_versions", kind, prefix):
                if exact and item["Key"] != prefix:
                    continue
                if kind == "Versions":
                    keys.add(item["Key"])
                batch.append({"Key": item["Key"], "VersionId": item["VersionId"]})
                if len(batch) == DELETE_BATCH:
                    self._delete_batch(batch)
                    batch = []
        if batch:
            self._delete_batch(batch)
        return len(keys)

    def _delete_batch(self, batch: list[dict[str, str]]) -> None:
        answer = _call(
            self.client.delete_objects, Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
        )
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise StorageUnavailable(
                f"Le stockage des documents a refusé une suppression ({first.get('Code')})."
            )

    def purge_temp(self, older_than: datetime) -> int:
        """Abort the multipart uploads started before ``older_than`` and never completed (a
        process that died mid-upload): what the local store's temp files are."""
        if older_than.tzinfo is None:
            raise InvalidInput("La date limite doit porter un fuseau horaire.")
        count = 0
        for item in self._listed("list_multipart_uploads", "Uploads", self.prefix):
            if item["Initiated"] < older_than:
                self._abort(item["Key"], item["UploadId"])
                count += 1
        return count

    # --- helpers ------------------------------------------------------------------------------

    def _name(self, key: str) -> str:
        parse_key(key)
        return self.prefix + key

    def _listed(self, operation: str, field: str, prefix: str) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator(operation).paginate(Bucket=self.bucket, Prefix=prefix)
        try:
            for page in pages:
                yield from page.get(field, [])
        except _FAILURES as error:
            raise _translated(error) from error


def _parts(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The stream regrouped in parts of exactly ``size`` bytes, the last one shorter."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield _cut(buffer, size)
    if buffer:
        yield _cut(buffer, len(buffer))


def _cut(buffer: bytearray, size: int) -> bytes:
    """The first ``size`` bytes of ``buffer``, removed from it (one copy, not two)."""
    with memoryview(buffer) as view:
        part = bytes(view[:size])
    del buffer[:size]
    return part


def _drained(head: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    """``head``'s parts, then ``rest``'s; each taken out of ``head`` as it goes, so that no
    part stays in memory once sent."""
    while head:
        yield head.pop(0)
    yield from rest


def _part(number: int, answer: dict[str, Any]) -> dict[str, Any]:
    """What CompleteMultipartUpload needs of a part: its ETag, and its checksum if one was
    computed (recent clients send a CRC by default, and the service then wants it back)."""
    part: dict[str, Any] = {"PartNumber": number, "ETag": answer["ETag"]}
    for name in ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1"):
        if answer.get(name):
            part[name] = answer[name]
    return part


def _total(answer: dict[str, Any]) -> int:
    """The object's size, from ``Content-Range: bytes 0-99/1234``; a store that ignored the
    range sent the whole object, without that header."""
    if "ContentRange" not in answer:
        length: int = answer["ContentLength"]
        return length
    total = ascii_int(str(answer["ContentRange"]).rsplit("/", 1)[-1])
    if total is None:
        raise StorageUnavailable()  # not an answer S3 gives
    return total


def _body(answer: dict[str, Any]) -> Iterator[bytes]:
    body = answer.get("Body")
    if body is None:
        return
    try:
        yield from body.iter_chunks(READ_SIZE)
    except _FAILURES as error:
        raise _translated(error) from error
    finally:
        body.close()


def _pieces(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The stream in pieces of exactly READ_SIZE bytes (the last one shorter), as the local
    store reads it, whatever sizes the network delivered."""
    return _parts(chunks, READ_SIZE)


def _is_key(key: str) -> bool:
    try:
        parse_key(key)
    except InvalidInput:
        return False  # not ours (another application's object under the prefix)
    return True


def _code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _translated(error: BaseException) -> Exception:
    """S3 and network errors as the service's: absent is ``NotFound``, anything else
    ``StorageUnavailable``."""
    if _code(error) in _MISSING:
        return NotFound()
    return StorageUnavailable()


def _call(operation: Callable[..., Any], **arguments: Any) -> Any:
    """One request to the service, its failure translated."""
    try:
        return operation(**arguments)
    except _FAILURES as error:
        raise _translated(error) from error
