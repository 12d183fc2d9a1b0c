"""Blobs in S3-compatible object storage (AWS S3, MinIO, Ceph RGW) through aiobotocore.

Keys are `<prefix>blobs/ab/cd/<sha256>`. Small objects go up in one
`PutObject`; objects above `multipart_threshold` in a multipart upload whose
parts are hashed as they stream, and the upload is aborted unless the whole
object hashes to its key. A completed S3 write is durable, so no fsync step
exists here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import TYPE_CHECKING, Any

from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from hub.errors import BlobError, BlobHashMismatchError, BlobNotFoundError
from hub.store.blobs import READ_BLOCK_SIZE, blob_key, verify_bytes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping
    from pathlib import Path

    from types_aiobotocore_s3 import S3Client

    from hub.config import StorageConfig

__all__ = ["S3BlobStore"]

_PUT_MANY_CONCURRENCY = 8  # requests in flight for one batch of chunks
_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})


def _is_not_found(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND


class S3BlobStore:
    """A `BlobStore` in an S3 bucket; create it with `S3BlobStore.connect`.

    Args:
        client: An open aiobotocore S3 client.
        exit_stack: Closes the client on `close`.
        bucket: The bucket.
        prefix: Key prefix (may be empty).
        multipart_threshold: Larger objects use a multipart upload.
        part_size: Size of each multipart part.
    """

    def __init__(
        self,
        client: S3Client,
        exit_stack: contextlib.AsyncExitStack,
        *,
        bucket: str,
        prefix: str,
        multipart_threshold: int,
        part_size: int,
    ) -> None:
        self._client = client
        self._exit_stack = exit_stack
        self._bucket = bucket
        self._prefix = prefix
        self._threshold = multipart_threshold
        self._part_size = part_size

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self._bucket!r}, prefix={self._prefix!r})"

    @classmethod
    async def connect(cls, config: StorageConfig) -> S3BlobStore:
        """Open a client for the bucket named by `config` (credentials never logged)."""
        assert config.bucket is not None
        stack = contextlib.AsyncExitStack()
        client: S3Client = await stack.enter_async_context(
            get_session().create_client(
                "s3",
                region_name=config.region,
                endpoint_url=config.endpoint_url,
                aws_access_key_id=config.access_key_id,
                aws_secret_access_key=config.secret_access_key,
            )
        )
        return cls(
            client,
            stack,
            bucket=config.bucket,
            prefix=config.prefix,
            multipart_threshold=config.multipart_threshold,
            part_size=config.multipart_part_size,
        )

    def key_of(self, sha256: str) -> str:
        """Return the object key of blob `sha256`."""
        return f"{self._prefix}blobs/{blob_key(sha256)}"

    async def put(self, sha256: str, data: bytes) -> None:
        """Store `data` under `sha256` (see `BlobStore.put`)."""
        verify_bytes(sha256, data)
        if len(data) > self._threshold:
            step = self._part_size
            await self._multipart(sha256, (data[i : i + step] for i in range(0, len(data), step)))
            return
        try:
            await self._client.put_object(Bucket=self._bucket, Key=self.key_of(sha256), Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise BlobError(f"cannot put blob {sha256}: {exc}") from exc

    async def put_many(self, blobs: Mapping[str, bytes]) -> set[str]:
        """Store each blob under its hash, several at once (see `BlobStore.put_many`)."""
        refused: set[str] = set()
        limit = asyncio.Semaphore(_PUT_MANY_CONCURRENCY)

        async def put(sha256: str, data: bytes) -> None:
            async with limit:
                try:
                    await self.put(sha256, data)
                except BlobHashMismatchError:
                    refused.add(sha256)

        await asyncio.gather(*(put(sha256, data) for sha256, data in blobs.items()))
        return refused

    async def put_file(self, sha256: str, path: Path) -> None:
        """Store the file at `path` under `sha256` (see `BlobStore.put_file`)."""
        if path.stat().st_size <= self._threshold:
            await self.put(sha256, path.read_bytes())
            return

        def parts() -> Iterator[bytes]:
            with path.open("rb") as source:
                while part := source.read(self._part_size):
                    yield part

        await self._multipart(sha256, parts())

    async def _multipart(self, sha256: str, parts: Iterator[bytes]) -> None:
        key = self.key_of(sha256)
        try:
            upload = await self._client.create_multipart_upload(Bucket=self._bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise BlobError(f"cannot start multipart upload of {sha256}: {exc}") from exc
        upload_id = upload["UploadId"]
        digest = hashlib.sha256()
        done: list[dict[str, Any]] = []
        try:
            for number, part in enumerate(parts, start=1):
                digest.update(part)
                answer = await self._client.upload_part(
                    Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=part
                )
                done.append({"ETag": answer["ETag"], "PartNumber": number})
            if digest.hexdigest() != sha256:
                raise BlobHashMismatchError(sha256, digest.hexdigest())  # noqa: TRY301 - the abort below must run for it too
            await self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": done},  # type: ignore[typeddict-item]
            )
        except BaseException as exc:
            with contextlib.suppress(BotoCoreError, ClientError):
                await self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=key, UploadId=upload_id
                )
            if isinstance(exc, BotoCoreError | ClientError):
                raise BlobError(f"multipart upload of {sha256} failed: {exc}") from exc
            raise

    async def exists(self, sha256: str) -> bool:
        """Tell whether blob `sha256` exists."""
        try:
            await self._client.head_object(Bucket=self._bucket, Key=self.key_of(sha256))
        except ClientError as exc:
            if _is_not_found(exc):
                return False
            raise BlobError(f"cannot look up blob {sha256}: {exc}") from exc
        except BotoCoreError as exc:
            raise BlobError(f"cannot look up blob {sha256}: {exc}") from exc
        return True

    async def read(self, sha256: str) -> bytes:
        """Return blob `sha256` whole."""
        return b"".join([block async for block in self.open(sha256)])

    async def open(self, sha256: str) -> AsyncIterator[bytes]:
        """Stream blob `sha256` in blocks."""
        try:
            answer = await self._client.get_object(Bucket=self._bucket, Key=self.key_of(sha256))
        except ClientError as exc:
            if _is_not_found(exc):
                raise BlobNotFoundError(f"no blob {sha256}") from None
            raise BlobError(f"cannot read blob {sha256}: {exc}") from exc
        except BotoCoreError as exc:
            raise BlobError(f"cannot read blob {sha256}: {exc}") from exc
        body = answer["Body"]
        try:
            while block := await body.read(READ_BLOCK_SIZE):
                yield block
        except (BotoCoreError, ClientError) as exc:
            raise BlobError(f"cannot read blob {sha256}: {exc}") from exc
        finally:
            body.close()

    async def delete(self, sha256: str) -> None:
        """Remove blob `sha256` if present (S3 deletes of missing keys succeed)."""
        try:
            await self._client.delete_object(Bucket=self._bucket, Key=self.key_of(sha256))
        except (BotoCoreError, ClientError) as exc:
            raise BlobError(f"cannot delete blob {sha256}: {exc}") from exc

    async def close(self) -> None:
        """Close the client."""
        await self._exit_stack.aclose()
