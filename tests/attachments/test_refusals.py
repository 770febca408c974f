"""Uploads that are refused: each answers the error shape and leaves nothing behind (no row, no
event, no file in the storage folder)."""
import io

import pytest
import sqlalchemy as sa
from PIL import Image

from portal.attachments.models import Attachment
from portal.events.models import OutboxEvent
from portal.extensions import db
from tests.attachments.conftest import jpeg_with_gps, png_bytes, stored_files
from tests.helpers import run_together


def _counts(app):
    with app.app_context():
        counts = (db.session.execute(sa.select(sa.func.count(Attachment.id))).scalar(),
                  db.session.execute(sa.select(sa.func.count(OutboxEvent.id)).where(
                      OutboxEvent.type == "ticket.attachment_added")).scalar())
        db.session.remove()
        return counts


def _bomb(pixels_side: int) -> bytes:
    # A tiny file that decodes to pixels_side² pixels: the classic decompression bomb.
    out = io.BytesIO()
    Image.new("1", (pixels_side, pixels_side)).save(out, format="PNG")
    return out.getvalue()


CASES = {
    "html named photo.jpg": (lambda: b"<!doctype html><script>alert(1)</script>", 422,
                             "invalid_file"),
    "truncated jpeg": (lambda: jpeg_with_gps()[:3000], 422, "invalid_file"),
    "empty file": (lambda: b"", 422, "empty_file"),
    "decompression bomb": (lambda: _bomb(20000), 422, "image_too_large"),  # 400 Mpx
    "just past the pixel limit": (lambda: _bomb(9500), 422, "image_too_large"),  # 90 Mpx
    "pdf without its end": (lambda: b"%PDF-1.7\n1 0 obj<<>>", 422, "invalid_file"),
    "gif": (lambda: _encoded_gif(), 422, "invalid_file"),
}


def _encoded_gif():
    out = io.BytesIO()
    Image.new("P", (8, 8)).save(out, format="GIF")
    return out.getvalue()


@pytest.mark.parametrize("case", list(CASES))
def test_refused_files_leave_nothing(app, make_ticket, upload, upload_dir, case):
    make, status, code = CASES[case]
    ticket_id = make_ticket("OPEN")
    response = upload(ticket_id, make(), "photo.jpg", "image/jpeg")
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert list(error["details"]) == ["file"]
    assert _counts(app) == (0, 0)
    assert stored_files(upload_dir) == []


@pytest.mark.parametrize("size", [10 * 1024 * 1024 + 1, 20 * 1024 * 1024])
def test_a_file_over_the_limit_is_413_and_leaves_nothing(app, make_ticket, upload, upload_dir,
                                                         size):
    # 10 MB + 1 byte fits the body limit (file + framing) and is refused by its size; 20 MB is
    # refused by the body limit itself, before the form is parsed.
    ticket_id = make_ticket("OPEN")
    data = jpeg_with_gps()
    response = upload(ticket_id, data + b"\0" * (size - len(data)))
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    assert _counts(app) == (0, 0)
    assert stored_files(upload_dir) == []


def test_a_file_at_the_limit_is_accepted(make_ticket, upload, upload_dir, app):
    ticket_id = make_ticket("OPEN")
    data = jpeg_with_gps()  # JPEG decoders stop at the end marker: the padding is not stored
    response = upload(ticket_id, data + b"\0" * (app.config["UPLOAD_MAX_BYTES"] - len(data)))
    assert response.status_code == 201, response.get_json()


def test_the_json_body_limit_is_unchanged_elsewhere(client, auth, make_ticket):
    ticket_id = make_ticket("OPEN")
    response = client.post(f"/api/tickets/{ticket_id}/comments", headers=auth("tenant"),
                           json={"body": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413


def test_the_21st_file_is_refused(app, make_ticket, upload, upload_dir):
    ticket_id = make_ticket("OPEN")
    for i in range(20):
        assert upload(ticket_id, png_bytes(size=(4 + i, 4))).status_code == 201
    response = upload(ticket_id, png_bytes())
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "too_many_attachments"
    assert _counts(app) == (20, 20)
    assert len(stored_files(upload_dir)) == 20


def test_racing_uploads_for_the_last_place_store_exactly_one(app, auth, make_ticket, upload,
                                                             upload_dir):
    from tests.attachments.conftest import multipart
    ticket_id = make_ticket("OPEN")
    for i in range(19):
        assert upload(ticket_id, png_bytes(size=(4 + i, 4))).status_code == 201
    headers = auth("tenant")
    body, form_type = multipart(png_bytes(), "last.png", "image/png")
    results = run_together(app, 5, lambda i, client: client.post(
        f"/api/tickets/{ticket_id}/attachments", data=body, content_type=form_type,
        headers=headers).status_code)
    assert sorted(results) == [201, 422, 422, 422, 422]
    assert _counts(app) == (20, 20)
    # The losers had written their file before their locked re-count refused them: gone again.
    assert len(stored_files(upload_dir)) == 20


def test_a_form_without_the_file_field_is_422(make_ticket, upload, upload_dir):
    ticket_id = make_ticket("OPEN")
    response = upload(ticket_id, png_bytes(), field="photo")
    assert response.status_code == 422
    assert "file" in response.get_json()["error"]["details"]
    assert stored_files(upload_dir) == []


def test_a_json_body_is_422_not_a_500(client, auth, make_ticket, upload_dir):
    ticket_id = make_ticket("OPEN")
    response = client.post(f"/api/tickets/{ticket_id}/attachments", json={"file": "x"},
                           headers=auth("tenant"))
    assert response.status_code == 422
    assert "file" in response.get_json()["error"]["details"]


def test_without_a_token_nothing_is_read(client, make_ticket, upload_dir):
    ticket_id = make_ticket("OPEN")
    response = client.post(f"/api/tickets/{ticket_id}/attachments",
                           data={"file": (io.BytesIO(png_bytes()), "p.png", "image/png")})
    assert response.status_code == 401
    assert stored_files(upload_dir) == []


def test_an_unwritable_folder_is_503_and_stores_nothing(app, make_ticket, upload, upload_dir,
                                                        monkeypatch, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(blocked))
    ticket_id = make_ticket("OPEN")
    response = upload(ticket_id, png_bytes())
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "service_unavailable"
    assert _counts(app) == (0, 0)
