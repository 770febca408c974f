"""The ticket page as a thread: timeline entries, comments and photos in time order, a comment
box and a photo upload; internal notes never on a tenant's page; late tickets first on the board."""
import io
import re
from datetime import timedelta

import sqlalchemy as sa

from portal.database import utcnow
from portal.extensions import db
from portal.tickets.models import Ticket
from tests.attachments.conftest import jpeg_with_gps, png_bytes, stored_files, upload_dir  # noqa: F401
from tests.tickets.conftest import make_ticket  # noqa: F401
from tests.web.test_pages import csrf, sign_in


def _page(client, ticket_id):
    response = client.get(f"/tickets/{ticket_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_comments_and_photos_join_the_timeline_in_time_order(app, make_ticket, upload_dir):
    ticket_id = make_ticket("OPEN")
    tenant = app.test_client()
    sign_in(tenant, "tenant")
    posted = tenant.post(f"/tickets/{ticket_id}/comment",
                         data={"body": "Water under the sink", "csrf_token": csrf(tenant)})
    assert posted.status_code == 303 and posted.headers["Location"].endswith("#thread")
    photo = tenant.post(f"/tickets/{ticket_id}/photo", content_type="multipart/form-data",
                        data={"file": (io.BytesIO(jpeg_with_gps()), "leak.jpg", "image/jpeg"),
                              "csrf_token": csrf(tenant)})
    assert photo.status_code == 303
    [stored] = stored_files(upload_dir)

    landlord = app.test_client()
    sign_in(landlord, "landlord")
    note = landlord.post(f"/tickets/{ticket_id}/comment", data={
        "body": "Check the warranty first", "internal": "on", "csrf_token": csrf(landlord)})
    assert note.status_code == 303

    seen_by_landlord = _page(landlord, ticket_id)
    order = [seen_by_landlord.index(text) for text in (
        "Water under the sink", f"/attachments/{stored.stem}/file", "Check the warranty first")]
    assert order == sorted(order)
    assert "Internal note" in seen_by_landlord
    assert 'accept="image/*" capture' in seen_by_landlord

    seen_by_tenant = _page(tenant, ticket_id)
    assert "Water under the sink" in seen_by_tenant and stored.stem in seen_by_tenant
    assert "Check the warranty first" not in seen_by_tenant
    assert 'name="internal"' not in seen_by_tenant  # no note box for a tenant
    # The fragment the live script swaps in is the same region, with the same rules.
    fragment = tenant.get(f"/fragments/tickets/{ticket_id}").get_data(as_text=True)
    assert "Water under the sink" in fragment and "Check the warranty first" not in fragment

    # The photo's link streams the re-encoded bytes to the landlord; another tenant gets 404.
    src = re.search(r'<img class="thread__photo" src="([^"]+)"', seen_by_landlord).group(1)
    assert landlord.get(src).status_code == 200
    other = app.test_client()
    sign_in(other, "tenant2")
    assert other.get(src).status_code == 404
    assert other.get(f"/tickets/{ticket_id}").status_code == 404


def test_bad_comment_and_photo_reshow_the_page_with_a_message(app, make_ticket, upload_dir):
    ticket_id = make_ticket("OPEN")
    client = app.test_client()
    sign_in(client, "tenant")
    blank = client.post(f"/tickets/{ticket_id}/comment",
                        data={"body": "  ", "csrf_token": csrf(client)})
    assert blank.status_code == 422 and 'id="body-error"' in blank.get_data(as_text=True)
    fake = client.post(f"/tickets/{ticket_id}/photo", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(b"<html>"), "photo.jpg", "image/jpeg"),
                             "csrf_token": csrf(client)})
    assert fake.status_code == 422 and 'id="file-error"' in fake.get_data(as_text=True)
    none = client.post(f"/tickets/{ticket_id}/photo", content_type="multipart/form-data",
                       data={"csrf_token": csrf(client)})
    assert none.status_code == 422
    forged = client.post(f"/tickets/{ticket_id}/photo", content_type="multipart/form-data",
                         data={"file": (io.BytesIO(png_bytes()), "p.png", "image/png")})
    assert forged.status_code == 403
    assert stored_files(upload_dir) == []
    note = client.post(f"/tickets/{ticket_id}/comment",
                       data={"body": "sneaky", "internal": "on", "csrf_token": csrf(client)})
    assert note.status_code == 403 and note.content_type.startswith("text/html")


def test_the_board_shows_late_tickets_first_and_marked(app, client, make_ticket):
    older_late = make_ticket("TRIAGED")
    newest = make_ticket("OPEN")
    with app.app_context():
        db.session.execute(sa.update(Ticket).where(Ticket.id == older_late).values(
            due_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    sign_in(client, "landlord")
    board = client.get("/maintenance").get_data(as_text=True)
    assert board.index(older_late) < board.index(newest)
    rows = re.findall(r'<li class="row( row--overdue)?" data-resource="ticket:(tkt_\w+)"', board)
    assert rows == [(" row--overdue", older_late), ("", newest)]
    assert board.count("data-overdue") == 1
