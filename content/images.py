"""Images for posts: checked, re-encoded with Pillow (no metadata kept), stored, served by token."""

from __future__ import annotations

import io
import re
import secrets
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from content.image_store import ImageStore
from content.models import PostImage
from growth.errors import NotFound, ValidationFailed
from growth.fields import Rule

ACCEPTED_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}
MAX_SIDE = 2000  # wider than any column an email or page shows; larger uploads are scaled down
JPEG_QUALITY = 85
ALT_RULE = Rule.of(PostImage.alt, "alt", min_length=1)
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}
_NAME = re.compile(r"([A-Za-z0-9_-]{16,32})\.(jpg|png)")


@dataclass(frozen=True)
class Encoded:
    """An image as it will be stored and served."""

    data: bytes
    content_type: str
    width: int
    height: int


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def reencode(data: bytes, max_bytes: int, max_pixels: int) -> Encoded:
    """A fresh JPEG (or PNG where there is transparency) of an uploaded image.

    Decoding and re-encoding drops whatever the file carried besides pixels (EXIF with GPS
    positions, comments, scripts in polyglot files); the camera's rotation is applied first.
    """
    if not data:
        raise ValidationFailed("choose an image to upload", code="missing_image")
    if len(data) > max_bytes:
        raise ValidationFailed(
            f"the image is larger than {max_bytes // (1024 * 1024) or 1} MB", code="image_too_large"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise ValidationFailed("upload a JPEG, PNG, GIF or WebP image", code="invalid_image")
            # Counted before decoding: a small file can declare billions of pixels.
            if image.width * image.height > max_pixels:
                raise ValidationFailed(
                    f"the image has more than {max_pixels:,} pixels", code="image_too_large"
                )
            image.load()
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise ValidationFailed("the file is not an image we can read", code="invalid_image") from exc
    upright: Image.Image = ImageOps.exif_transpose(image) or image
    upright.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    if _has_alpha(upright):
        upright.convert("RGBA").save(out, "PNG", optimize=True)
        content_type = "image/png"
    else:
        upright.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        content_type = "image/jpeg"
    return Encoded(out.getvalue(), content_type, upright.width, upright.height)


def image_path(image: PostImage) -> str:
    """Where the app serves the image."""
    return f"/images/{image.token}.{EXTENSIONS[image.content_type]}"


def store_image(
    session: Session,
    store: ImageStore | None,
    data: bytes,
    alt: str,
    max_bytes: int,
    max_pixels: int,
    post_id: int | None = None,
    operator_id: int | None = None,
) -> PostImage:
    """Check, re-encode and keep an uploaded image; ValidationFailed says what is wrong with it.

    With a bucket, the bytes are put there before the row exists: a crash between the two
    leaves an unused object, never a row whose image is missing.
    """
    alt = ALT_RULE.clean(alt)
    encoded = reencode(data, max_bytes, max_pixels)
    token = secrets.token_urlsafe(16)
    image = PostImage(
        token=token,
        post_id=post_id,
        alt=alt,
        content_type=encoded.content_type,
        width=encoded.width,
        height=encoded.height,
        size=len(encoded.data),
        created_by=operator_id,
    )
    if store is None:
        image.data = encoded.data
    else:
        image.storage_key = f"images/{token}.{EXTENSIONS[encoded.content_type]}"
        store.put(image.storage_key, encoded.data, encoded.content_type)
    session.add(image)
    session.flush()
    return image


def find_image(session: Session, store: ImageStore | None, name: str) -> tuple[PostImage, bytes]:
    """The image named `<token>.<ext>` and its bytes, or NotFound."""
    match = _NAME.fullmatch(name)
    image = None
    if match is not None:
        image = session.scalars(select(PostImage).where(PostImage.token == match.group(1))).first()
    if image is None or EXTENSIONS.get(image.content_type) != (match.group(2) if match else None):
        raise NotFound("No such image.", code="image_not_found")
    data = image.data
    if data is None and image.storage_key and store is not None:
        data = store.get(image.storage_key)
    if data is None:
        raise NotFound("No such image.", code="image_not_found")
    return image, data
