"""Thumbnails are the worker's job: a lost task (broker down at upload) is made up by the beat."""
from datetime import timedelta

import sqlalchemy as sa

from portal import create_app, tasks
from portal.attachments.models import Attachment
from portal.database import utcnow
from portal.extensions import db
from tests.attachments.conftest import jpeg_with_gps, multipart, stored_files
from tests.helpers import free_port


def test_an_upload_while_the_broker_is_down_gets_its_thumbnail_from_the_beat(
        app, auth, make_ticket, upload_dir, celery_worker):
    ticket_id = make_ticket("OPEN")
    # A web app whose broker is unreachable (the database, Redis and the folder are fine).
    down = create_app("testing", {key: app.config[key] for key in (
        "SQLALCHEMY_DATABASE_URI", "REDIS_URL", "REDIS_PREFIX", "UPLOAD_DIR")}
        | {"CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"})
    app.extensions["celery"].set_default()
    body, form_type = multipart(jpeg_with_gps(), "p.jpg", "image/jpeg")
    response = down.test_client().post(f"/api/tickets/{ticket_id}/attachments", data=body,
                                       content_type=form_type, headers=auth("tenant"))
    assert response.status_code == 201 and response.get_json()["thumbnailUrl"] is None
    with down.app_context():
        db.engine.dispose()
    assert len(stored_files(upload_dir)) == 1

    with app.app_context():
        db.session.execute(sa.update(Attachment).values(created_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
    result = app.extensions["celery"].send_task(tasks.MAKE_MISSING_THUMBNAILS,
                                                ignore_result=False)
    assert result.get(timeout=30) == 1
    with app.app_context():
        [attachment] = db.session.execute(sa.select(Attachment)).scalars().all()
        assert attachment.thumbnail_key
        db.session.remove()
    assert len(stored_files(upload_dir)) == 2
    again = app.extensions["celery"].send_task(tasks.MAKE_MISSING_THUMBNAILS, ignore_result=False)
    assert again.get(timeout=30) == 0
