"""The hub's storage: metadata (`MetadataStore`) and content-addressed blobs (`BlobStore`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.store.blobs import BlobStore
from hub.store.local import LocalBlobStore
from hub.store.metadata import MetadataStore, MetadataTransaction
from hub.store.sqlite import SqliteMetadataStore

if TYPE_CHECKING:
    from hub.config import HubConfig

__all__ = [
    "BlobStore",
    "LocalBlobStore",
    "MetadataStore",
    "MetadataTransaction",
    "SqliteMetadataStore",
    "open_blob_store",
    "open_metadata_store",
]


async def open_metadata_store(config: HubConfig, *, instance: str = "hub") -> MetadataStore:
    """Open the metadata store `config` names (SQLite under `data_dir`)."""
    return await SqliteMetadataStore.open(config.hub.data_path, instance=instance)


async def open_blob_store(config: HubConfig) -> BlobStore:
    """Open the blob store `config` names: local under `data_dir/blobs`, or S3."""
    if config.storage.kind == "s3":
        # Imported here so that a hub on local storage never loads botocore.
        from hub.store.s3 import S3BlobStore  # noqa: PLC0415 - optional heavy dependency

        return await S3BlobStore.connect(config.storage)
    return LocalBlobStore(config.hub.data_path / "blobs")
