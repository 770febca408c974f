"""Attachment fixtures: real image files made with Pillow, the upload folder, HTTP helpers."""
import io
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.tickets.conftest import events, make_ticket  # noqa: F401  (shared fixtures)

GPS_IFD = 0x8825


def jpeg_with_gps(size=(640, 480), colour=(200, 80, 40)) -> bytes:
    """A real JPEG whose EXIF carries a GPS position (and a camera make)."""
    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[0x010F] = "PortalCam"  # Make
    exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def png_bytes(size=(64, 48), mode="RGB") -> bytes:
    """A real PNG."""
    out = io.BytesIO()
    Image.new(mode, size, "blue").save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def upload_dir(app):
    """The storage folder as a Path (emptied after every test by the suite's clean-up)."""
    return Path(app.config["UPLOAD_DIR"])


def stored_files(root: Path) -> list:
    """Every file under the storage folder (hidden partial files included)."""
    return sorted(p for p in root.rglob("*") if p.is_file())


def multipart(data: bytes, filename: str, content_type: str, field="file"):
    """(body, Content-Type) of a multipart form holding one file; the same arguments give the
    same bytes, as a client retrying one request sends them."""
    boundary, body = encode_multipart(
        {field: FileStorage(io.BytesIO(data), filename=filename, content_type=content_type)},
        boundary="portal-test-boundary")
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def upload(client, auth):
    """``upload(ticket_id, data, filename, content_type, who="tenant")`` → the response."""
    def _upload(ticket_id, data, filename="photo.jpg", content_type="image/jpeg", who="tenant",
                headers=None, field="file"):
        body, form_type = multipart(data, filename, content_type, field)
        return client.post(f"/api/tickets/{ticket_id}/attachments", data=body,
                           content_type=form_type, headers={**auth(who), **(headers or {})})
    return _upload
