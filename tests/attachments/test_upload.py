"""Uploads that are accepted: what is stored (decided from the content, without metadata), the
thumbnail the real worker makes, and who may fetch the bytes."""
import io

import pytest
import sqlalchemy as sa
from PIL import Image

from portal.attachments.models import Attachment
from portal.auth.models import User
from portal.directory.models import ContractorFirm
from portal.extensions import db
from portal.seed import PASSWORD
from tests.attachments.conftest import GPS_IFD, jpeg_with_gps, png_bytes, stored_files
from tests.helpers import login_as, wait_until

ATTACHMENT_KEYS = {"id", "ticketId", "filename", "contentType", "size", "width", "height",
                   "thumbnailUrl", "url", "uploadedBy", "createdAt"}


@pytest.fixture
def other_contractor(app, client):
    """Headers of a user of a second contractor firm, which no ticket is assigned to."""
    with app.app_context():
        firm = ContractorFirm(name="Elsewhere Plumbing")
        db.session.add(firm)
        db.session.flush()
        user = User(email="other-contractor@example.com", name="Other", role="CONTRACTOR",
                    contractor_id=firm.id)
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
    return login_as(client, "other-contractor")


def _image(data: bytes):
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_gps_jpeg_is_stored_without_location_thumbnailed_and_shown_only_to_the_ticket(
        client, auth, demo, make_ticket, upload, upload_dir, other_contractor, celery_worker):
    ticket_id = make_ticket("TRIAGED")  # assigned to the demo contractor firm
    original = jpeg_with_gps()
    assert _image(original).getexif().get_ifd(GPS_IFD)  # the upload does carry a position

    response = upload(ticket_id, original, "IMG_0001.jpg")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == ATTACHMENT_KEYS
    assert (body["ticketId"], body["filename"], body["contentType"]) == (
        ticket_id, "IMG_0001.jpg", "image/jpeg")
    assert (body["width"], body["height"]) == (640, 480)
    assert body["uploadedBy"] == demo["users"]["tenant"]
    [on_disk] = stored_files(upload_dir)
    assert body["size"] == on_disk.stat().st_size
    stored = _image(on_disk.read_bytes())
    assert stored.format == "JPEG" and stored.size == (640, 480)
    exif = stored.getexif()
    assert not exif.get_ifd(GPS_IFD) and GPS_IFD not in exif and 0x010F not in exif

    # The worker makes the thumbnail; the listing shows its URL once it exists.
    def thumbnail_url():
        items = client.get(f"/api/tickets/{ticket_id}/attachments",
                           headers=auth("landlord")).get_json()["items"]
        return items[0]["thumbnailUrl"]
    thumb_url = wait_until(thumbnail_url, what="the thumbnail task")

    for who in ("tenant", "landlord", "contractor", "ops"):
        fetched = client.get(body["url"], headers=auth(who))
        assert fetched.status_code == 200, who
        assert fetched.data == on_disk.read_bytes()
        assert fetched.headers["Content-Type"] == "image/jpeg"
        assert fetched.headers["X-Content-Type-Options"] == "nosniff"
        assert fetched.headers["Content-Disposition"] == "inline; filename=IMG_0001.jpg"
        assert not _image(fetched.data).getexif().get_ifd(GPS_IFD)
        small = client.get(thumb_url, headers=auth(who))
        assert small.status_code == 200 and small.headers["Content-Type"] == "image/jpeg"
        assert small.headers["X-Content-Type-Options"] == "nosniff"
        assert max(_image(small.data).size) == 320

    for outsider in (auth("tenant2"), auth("landlord2"), other_contractor):
        for url in (body["url"], thumb_url, f"/api/tickets/{ticket_id}/attachments"):
            refused = client.get(url, headers=outsider)
            assert refused.status_code == 404, url
            assert refused.get_json()["error"]["code"] == "not_found"
        stranger = upload(ticket_id, png_bytes(), headers=outsider, who="tenant")
        assert stranger.status_code == 404
    assert len(stored_files(upload_dir)) == 2  # the photo and its thumbnail, nothing else


def test_png_renamed_jpg_is_stored_and_served_as_png(client, auth, make_ticket, upload,
                                                      upload_dir):
    ticket_id = make_ticket("OPEN")
    response = upload(ticket_id, png_bytes(), "photo.jpg", "image/jpeg")
    assert response.status_code == 201
    body = response.get_json()
    assert (body["contentType"], body["filename"]) == ("image/png", "photo.png")
    [on_disk] = stored_files(upload_dir)
    assert on_disk.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    fetched = client.get(body["url"], headers=auth("landlord"))
    assert fetched.headers["Content-Type"] == "image/png"
    assert fetched.headers["Content-Disposition"] == "inline; filename=photo.png"


def _encoded(fmt, **options) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 90), "green").save(out, format=fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize("fmt, sent_as, content_type, filename", [
    ("WEBP", "leak.webp", "image/webp", "leak.webp"),
    ("HEIF", "IMG_0002.HEIC", "image/jpeg", "IMG_0002.jpg"),  # shown by every browser
])
def test_webp_and_heic_are_accepted(client, auth, make_ticket, upload, upload_dir, fmt, sent_as,
                                    content_type, filename):
    ticket_id = make_ticket("OPEN")
    response = upload(ticket_id, _encoded(fmt), sent_as, "application/octet-stream")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["contentType"], body["filename"], body["width"], body["height"]) == (
        content_type, filename, 120, 90)
    fetched = client.get(body["url"], headers=auth("contractor"))
    assert _image(fetched.data).format == content_type.split("/")[1].upper()


def test_pdf_is_accepted_and_downloaded_never_shown_inline(client, auth, make_ticket, upload,
                                                           upload_dir):
    ticket_id = make_ticket("OPEN")
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    response = upload(ticket_id, pdf, "quote.pdf", "application/pdf")
    assert response.status_code == 201
    body = response.get_json()
    assert (body["contentType"], body["size"], body["width"], body["thumbnailUrl"]) == (
        "application/pdf", len(pdf), None, None)
    fetched = client.get(body["url"], headers=auth("landlord"))
    assert fetched.data == pdf
    assert fetched.headers["Content-Disposition"] == "attachment; filename=quote.pdf"
    assert fetched.headers["X-Content-Type-Options"] == "nosniff"


def test_client_file_names_cannot_reach_paths_or_headers(client, auth, make_ticket, upload,
                                                         upload_dir):
    ticket_id = make_ticket("OPEN")
    response = upload(ticket_id, png_bytes(), "..\\..\\etc/pa;ss\u202e\twd.png")
    assert response.status_code == 201
    body = response.get_json()
    assert body["filename"] == "pa;sswd.png"
    [on_disk] = stored_files(upload_dir)
    assert on_disk.parent.parent == upload_dir  # <folder>/<ticket>/<attachment>.png
    fetched = client.get(body["url"], headers=auth("landlord"))
    assert fetched.headers["Content-Disposition"] == 'inline; filename="pa;sswd.png"'
    accented = upload(ticket_id, png_bytes(), "fuite d’eau.png").get_json()
    fetched = client.get(accented["url"], headers=auth("landlord"))
    assert fetched.headers["Content-Disposition"] == (
        "inline; filename=\"fuite deau.png\"; filename*=UTF-8''fuite%20d%E2%80%99eau.png")


def test_list_is_oldest_first_and_the_event_reaches_the_ticket_audience(
        client, auth, demo, make_ticket, upload, upload_dir, events):
    ticket_id = make_ticket("OPEN")
    ids = [upload(ticket_id, png_bytes(size=(10 + i, 10))).get_json()["id"] for i in range(3)]
    listed = client.get(f"/api/tickets/{ticket_id}/attachments", headers=auth("tenant"))
    assert [a["id"] for a in listed.get_json()["items"]] == ids
    added = [e for e in events(ticket_id) if e["type"] == "ticket.attachment_added"]
    assert [e["resources"][1] for e in added] == [{"type": "attachment", "id": i} for i in ids]
    assert set(added[0]["audience"]) == {f"landlord:{demo['ll1']}", f"tenant:{demo['ten1']}",
                                         f"contractor:{demo['ctr']}", "role:OPS"}


def test_an_idempotent_retry_of_an_upload_stores_one_file(make_ticket, upload, upload_dir, app):
    ticket_id = make_ticket("OPEN")
    key = {"Idempotency-Key": "upload-1"}
    first = upload(ticket_id, png_bytes(), "p.png", "image/png", headers=key)
    second = upload(ticket_id, png_bytes(), "p.png", "image/png", headers=key)
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json() == first.get_json()
    other = upload(ticket_id, png_bytes(size=(5, 5)), "p.png", "image/png", headers=key)
    assert other.status_code == 422
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    assert len(stored_files(upload_dir)) == 1
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count(Attachment.id))).scalar() == 1
