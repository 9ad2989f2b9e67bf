"""Where image bytes live: the database by default, an S3-compatible bucket when configured.

Never the web server's disk: every web process serves every image, so they stay stateless.
"""

from __future__ import annotations

from typing import Any, Protocol

from flask import Flask, current_app


class ImageStore(Protocol):
    """An object store for image bytes."""

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes | None: ...


class S3Store:
    """A bucket of any S3-compatible service (AWS, MinIO, R2...) through boto3."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store the bytes under key."""
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes | None:
        """The bytes under key, None when the bucket has none."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None
        return bytes(answer["Body"].read())


def build_store(app: Flask) -> ImageStore | None:
    """The configured bucket, or None (images go into the database)."""
    config = app.config["MASTHEAD"]
    if not config.s3_bucket:
        return None
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=config.s3_endpoint_url,
        region_name=config.s3_region or "us-east-1",
        aws_access_key_id=config.s3_access_key_id,
        aws_secret_access_key=config.s3_secret_access_key,
    )
    return S3Store(client, config.s3_bucket)


def init_app(app: Flask) -> None:
    """Build the store once per app."""
    app.extensions["content_image_store"] = build_store(app)


def current_store() -> ImageStore | None:
    """This app's image store (None: the database)."""
    store: ImageStore | None = current_app.extensions.get("content_image_store")
    return store
