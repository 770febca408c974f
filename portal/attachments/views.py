"""Attachment endpoints: upload, list, and the two file streams (original and thumbnail)."""
from flask import send_file
from flask_smorest import Blueprint

from portal.attachments import service
from portal.attachments.schemas import AttachmentListSchema, AttachmentSchema, UploadSchema
from portal.auth.principal import authenticated, caller
from portal.routes import upload

blp = Blueprint("attachments", __name__, url_prefix="/api/tickets",
                description="Photos and files attached to tickets")

_BYTES = {"200": {"description": "The bytes, with X-Content-Type-Options: nosniff and a safe "
                                 "Content-Disposition.",
                  "content": {kind: {"schema": {"type": "string", "format": "binary"}}
                              for kind in ("image/jpeg", "image/png", "image/webp",
                                           "application/pdf")}}}


@blp.route("/<ticket_id>/attachments", methods=["POST"])
@upload
@authenticated
@blp.arguments(UploadSchema, location="files")
@blp.response(201, AttachmentSchema)
def add(files, ticket_id):
    """Attach a photo or PDF (multipart field ``file``); its type is decided from its content."""
    upload_ = files["file"]
    return service.add_attachment(caller(), ticket_id, filename=upload_.filename,
                                  stream=upload_.stream)


@blp.route("/<ticket_id>/attachments", methods=["GET"])
@authenticated
@blp.response(200, AttachmentListSchema)
def list_(ticket_id):
    """The ticket's attachments, oldest first."""
    return service.list_attachments(caller(), ticket_id)


@blp.route("/<ticket_id>/attachments/<attachment_id>/file", methods=["GET"])
@authenticated
@blp.doc(responses=_BYTES)
def file(ticket_id, attachment_id):
    """The attachment's bytes (callers who see the ticket; 404 otherwise)."""
    return _streamed(service.open_file(caller(), ticket_id, attachment_id))


@blp.route("/<ticket_id>/attachments/<attachment_id>/thumbnail", methods=["GET"])
@authenticated
@blp.doc(responses=_BYTES)
def thumbnail(ticket_id, attachment_id):
    """The image's thumbnail (a JPEG), once the worker has made it; 404 before."""
    return _streamed(service.open_file(caller(), ticket_id, attachment_id, thumbnail=True))


def _streamed(stored):
    response = send_file(stored.stream, mimetype=stored.content_type,
                         as_attachment=not stored.inline, download_name=stored.filename,
                         conditional=False, etag=False, max_age=None)
    if stored.size is not None:
        response.content_length = stored.size
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Opened directly, the file runs no script and reaches nothing (a PDF viewer included).
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
