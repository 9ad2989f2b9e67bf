"""Images: size and pixel caps, re-encoding without metadata, the database and an S3 bucket."""

from __future__ import annotations

import io
import uuid

import pytest
from flask import g
from PIL import Image

from content import images
from content.image_store import S3Store
from growth import auth
from growth.errors import ValidationFailed
from tests.content.conftest import csrf_from
from tests.growth.helpers import login_as

MAX = 1024 * 1024


def _png(width: int = 40, height: int = 30, mode: str = "RGB", **save: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), (200, 30, 30) if mode == "RGB" else (200, 30, 30, 128)).save(
        out, "PNG", **save
    )
    return out.getvalue()


def _jpeg_with_exif(orientation: int = 6) -> bytes:
    image = Image.new("RGB", (60, 20), (10, 120, 10))
    exif = Image.Exif()
    exif[0x0112] = orientation  # rotated 90°: the camera's way of saying "portrait"
    exif[0x010F] = "SecretCam"  # camera make: metadata that must not be published
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_reencoding_drops_metadata_and_applies_rotation():  # type: ignore[no-untyped-def]
    encoded = images.reencode(_jpeg_with_exif(), MAX, 10_000_000)
    assert encoded.content_type == "image/jpeg"
    assert (encoded.width, encoded.height) == (20, 60)  # turned upright
    assert b"SecretCam" not in encoded.data and not Image.open(io.BytesIO(encoded.data)).getexif()
    transparent = images.reencode(_png(mode="RGBA"), MAX, 10_000_000)
    assert transparent.content_type == "image/png"
    assert Image.open(io.BytesIO(transparent.data)).mode == "RGBA"
    big = images.reencode(_png(4000, 1000), 10 * MAX, 10_000_000)
    assert (big.width, big.height) == (images.MAX_SIDE, 500)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "missing_image"),
        (b"GIF89a not really", "invalid_image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "invalid_image"),
        (b"%PDF-1.4", "invalid_image"),
    ],
)
def test_what_is_not_an_image_is_refused(data, code):  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as caught:
        images.reencode(data, MAX, 10_000_000)
    assert caught.value.code == code


def test_size_and_pixel_caps():  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as caught:
        images.reencode(_png(), 100, 10_000_000)
    assert caught.value.code == "image_too_large"
    # A tiny file declaring many pixels is refused before it is decoded.
    bomb = _png(3000, 3000, optimize=True)
    assert len(bomb) < MAX
    with pytest.raises(ValidationFailed) as caught:
        images.reencode(bomb, MAX, 1_000_000)
    assert caught.value.code == "image_too_large"


@pytest.fixture
def writer(client, session):  # type: ignore[no-untyped-def]
    operator = auth.create_operator(
        session, f"img-{uuid.uuid4().hex[:6]}@example.com", "a-long-password", "creator"
    )
    session.commit()
    g.pop("operator", None)
    login_as(client, operator)
    return csrf_from(client.get("/admin/posts/new").get_data(as_text=True))


def _upload(client, token: str, data: bytes, alt: str = "A red square", **extra):  # type: ignore[no-untyped-def]
    return client.post(
        "/admin/images",
        data={"image": (io.BytesIO(data), "pic.png"), "alt": alt, **extra},
        headers={"X-CSRFToken": token},
        content_type="multipart/form-data",
    )


def test_upload_stores_in_the_database_and_serves_it(client, session, writer):  # type: ignore[no-untyped-def]
    answer = _upload(client, writer, _png())
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["markdown"] == f"![A red square]({body['url']})"
    path = body["url"].removeprefix("http://masthead.test")
    served = client.get(path)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert "immutable" in served.headers["Cache-Control"]
    assert Image.open(io.BytesIO(served.data)).size == (40, 30)
    stored = session.get(images.PostImage, body["id"])
    assert stored.data == served.data and stored.storage_key is None
    assert client.get(path.replace(".jpg", ".png")).status_code == 404
    assert client.get("/images/nothing.jpg").status_code == 404


def test_upload_refusals_are_4xx(client, session, writer, app):  # type: ignore[no-untyped-def]
    assert _upload(client, writer, _png(), alt="").status_code == 422  # alt text is required
    assert _upload(client, writer, _png(), alt="a\nb").status_code == 422
    assert _upload(client, writer, b"not an image").get_json()["error"]["code"] == "invalid_image"
    assert _upload(client, writer, _png(), post_id="999999").status_code == 404
    assert _upload(client, writer, _png(), post_id="abc").status_code == 400
    limit = app.config["MASTHEAD"].image_max_bytes
    assert _upload(client, writer, b"\0" * (limit + 200_000)).status_code == 413
    no_file = client.post("/admin/images", data={"alt": "x"}, headers={"X-CSRFToken": writer})
    assert no_file.status_code == 422
    assert client.post("/admin/images", data={"alt": "x"}).status_code == 400  # no CSRF token


@pytest.fixture(scope="module")
def s3_server():  # type: ignore[no-untyped-def]
    """moto's S3 as a local HTTP server: boto3 talks to it as it would to any S3 endpoint."""
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_with_a_bucket_images_live_there_not_in_the_database(app_factory, session, s3_server):  # type: ignore[no-untyped-def]
    import boto3

    bucket = f"masthead-{uuid.uuid4().hex[:8]}"
    settings = dict(
        s3_bucket=bucket,
        s3_endpoint_url=s3_server,
        s3_region="us-east-1",
        s3_access_key_id="test",
        s3_secret_access_key="test",
    )
    client_s3 = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client_s3.create_bucket(Bucket=bucket)
    other = app_factory(**settings)
    store = other.extensions["content_image_store"]
    assert isinstance(store, S3Store)
    with other.app_context():
        image = images.store_image(session, store, _png(), "In the bucket", MAX, 10_000_000)
        session.commit()
        assert image.data is None and image.storage_key
        kept = client_s3.get_object(Bucket=bucket, Key=image.storage_key)
        assert kept["ContentType"] == "image/jpeg"
        stored = kept["Body"].read()
        web = other.test_client().get(images.image_path(image))
        assert web.status_code == 200 and web.data == stored
        client_s3.delete_object(Bucket=bucket, Key=image.storage_key)
        assert other.test_client().get(images.image_path(image)).status_code == 404
