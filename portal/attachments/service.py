"""Attachment rules: upload (checked, stored, recorded with its event in one commit), list,
open for streaming, and the thumbnail made afterwards by a worker."""
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO, Optional

import sqlalchemy as sa
from flask import current_app

from portal import tasks
from portal.attachments import images
from portal.attachments.models import Attachment
from portal.attachments.storage import storage
from portal.cpu import off_the_loop
from portal.database import atomic, new_id, read_only, utcnow
from portal.errors import NotFound, PayloadTooLarge, ServiceUnavailable, ValidationFailed
from portal.events.enqueue import send_best_effort
from portal.events.outbox import record_event
from portal.extensions import db
from portal.tickets.models import Ticket
from portal.tickets.service import get_ticket, ticket_audience, visible_tickets

log = logging.getLogger(__name__)

# The beat makes thumbnails still missing this long after an upload (a lost task).
THUMBNAIL_GRACE = timedelta(seconds=60)
THUMBNAIL_SWEEP_BATCH = 100


@dataclass(frozen=True)
class StoredFile:
    """An open file to stream, with what the response says about it."""

    stream: BinaryIO
    content_type: str
    filename: str
    inline: bool
    size: Optional[int] = None


def add_attachment(principal, ticket_id: str, *, filename: Optional[str],
                   stream: BinaryIO) -> Attachment:
    """Attach a file to a visible ticket (event ``ticket.attachment_added``).

    Refused with nothing stored: 413 over UPLOAD_MAX_BYTES, 422 for a ticket that has its
    UPLOAD_MAX_PER_TICKET files or a file that is not an accepted image or PDF.
    """
    config = current_app.config
    with read_only():  # cheap refusals first, before any decoding
        ticket = get_ticket(principal, ticket_id)
        _check_room(ticket.id)
    limit = config["UPLOAD_MAX_BYTES"]
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"A file may be at most {limit} bytes.",
                              details={"file": [f"At most {limit} bytes."]})
    checked = off_the_loop(images.check, data)  # decode + re-encode: CPU, not the loop's
    attachment = Attachment(id=new_id("att"), ticket_id=ticket_id, uploaded_by=principal.user_id,
                            filename=images.safe_filename(filename, checked.extension),
                            content_type=checked.content_type, size=len(checked.data),
                            width=checked.width, height=checked.height)
    attachment.storage_key = f"{ticket_id}/{attachment.id}.{checked.extension}"
    backend = storage()
    # The file first, then the row and its event in one commit; if that commit does not
    # happen the file goes again, so neither exists without the other.
    try:
        backend.put(attachment.storage_key, checked.data)
    except OSError as exc:
        raise _store_unavailable(exc) from None
    try:
        with atomic(keep_loaded=True):
            # The row lock (PostgreSQL; SQLite serialises writers) makes the count and the
            # insert one step: two uploads racing for the last place never both win.
            ticket = db.session.execute(visible_tickets(principal).where(
                Ticket.id == ticket_id).with_for_update()).scalar_one_or_none()
            if ticket is None:
                raise NotFound("No such ticket.")
            _check_room(ticket.id)
            db.session.add(attachment)
            db.session.flush()
            record_event("ticket.attachment_added", principal, landlord_id=ticket.landlord_id,
                         tenant_id=ticket.tenant_id,
                         resources=[{"type": "ticket", "id": ticket.id},
                                    {"type": "attachment", "id": attachment.id}],
                         audience=ticket_audience(ticket))
    except BaseException:
        backend.delete(attachment.storage_key)
        raise
    if attachment.is_image:
        send_best_effort(tasks.MAKE_THUMBNAIL, attachment.id)  # the beat's sweep if lost
    return attachment


def _store_unavailable(exc: OSError) -> ServiceUnavailable:
    log.warning("attachment storage unavailable: %s", exc)
    return ServiceUnavailable("The file store is unavailable; retry later.")


def _check_room(ticket_id: str) -> None:
    most = current_app.config["UPLOAD_MAX_PER_TICKET"]
    count = db.session.execute(sa.select(sa.func.count()).select_from(Attachment).where(
        Attachment.ticket_id == ticket_id)).scalar_one()
    if count >= most:
        message = f"A ticket has at most {most} attachments."
        raise ValidationFailed(message, code="too_many_attachments", details={"file": [message]})


def list_attachments(principal, ticket_id: str) -> dict:
    """The visible ticket's attachments, oldest first: ``{"items": [...]}``."""
    ticket = get_ticket(principal, ticket_id)
    items = db.session.execute(sa.select(Attachment).where(Attachment.ticket_id == ticket.id)
                               .order_by(Attachment.created_at, Attachment.id)).scalars().all()
    return {"items": items}


def open_file(principal, ticket_id: str, attachment_id: str, thumbnail=False) -> StoredFile:
    """The attachment's bytes (or its thumbnail's) for a caller who sees the ticket, else 404."""
    with read_only():
        ticket = get_ticket(principal, ticket_id)
        attachment = db.session.execute(sa.select(Attachment).where(
            Attachment.ticket_id == ticket.id, Attachment.id == attachment_id)
        ).scalar_one_or_none()
        key = None if attachment is None else (
            attachment.thumbnail_key if thumbnail else attachment.storage_key)
        if key is None:
            raise NotFound("No such file.")
        if thumbnail:
            content_type, size = "image/jpeg", None
            filename = attachment.filename.rsplit(".", 1)[0] + "-thumbnail.jpg"
        else:
            content_type, filename = attachment.content_type, attachment.filename
            size = attachment.size
    try:
        stream = storage().open(key)
    except FileNotFoundError:
        raise NotFound("No such file.") from None
    except OSError as exc:
        raise _store_unavailable(exc) from None
    # Images were re-encoded by us and are shown in place; anything else is downloaded.
    return StoredFile(stream, content_type, filename, inline=content_type.startswith("image/"),
                      size=size)


def make_thumbnail(attachment_id: str) -> Optional[str]:
    """Store the thumbnail of an image attachment once; return its key (None: not an image)."""
    with read_only():
        attachment = db.session.get(Attachment, attachment_id)
        if attachment is None or not attachment.is_image:
            return None
        if attachment.thumbnail_key:
            return attachment.thumbnail_key
        source = attachment.storage_key
    key = source.rsplit(".", 1)[0] + ".thumb.jpg"
    backend = storage()
    with backend.open(source) as handle:
        backend.put(key, images.thumbnail(handle.read()))
    with atomic():
        db.session.execute(sa.update(Attachment).where(
            Attachment.id == attachment_id, Attachment.thumbnail_key.is_(None))
            .values(thumbnail_key=key))
    return key


def make_missing_thumbnails() -> int:
    """Make the thumbnails whose task was lost (broker down at upload); return how many."""
    with read_only():
        ids = db.session.execute(sa.select(Attachment.id).where(
            Attachment.thumbnail_key.is_(None), Attachment.content_type.like("image/%"),
            Attachment.created_at < utcnow() - THUMBNAIL_GRACE)
            .order_by(Attachment.created_at).limit(THUMBNAIL_SWEEP_BATCH)).scalars().all()
    for attachment_id in ids:
        make_thumbnail(attachment_id)
    return len(ids)
