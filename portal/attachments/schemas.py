"""Attachment request and response bodies."""
from flask import url_for
from flask_smorest.fields import Upload
from marshmallow import fields

from portal.fields import Timestamp
from portal.schemas import InputSchema, Schema


class UploadSchema(InputSchema):
    """``multipart/form-data`` with the file in the field ``file``."""

    file = Upload(required=True, metadata={
        "description": "A JPEG, PNG, WebP or HEIC image, or a PDF."})


class AttachmentSchema(Schema):
    id = fields.String()
    ticket_id = fields.String()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    thumbnail_url = fields.Method("_thumbnail_url", allow_none=True,
                                  metadata={"type": "string",
                                            "description": "null until the thumbnail is made"})
    url = fields.Method("_url", metadata={"type": "string"})
    uploaded_by = fields.String()
    created_at = Timestamp()

    def _url(self, attachment):
        return url_for("attachments.file", ticket_id=attachment.ticket_id,
                       attachment_id=attachment.id)

    def _thumbnail_url(self, attachment):
        if not attachment.thumbnail_key:
            return None
        return url_for("attachments.thumbnail", ticket_id=attachment.ticket_id,
                       attachment_id=attachment.id)


AttachmentListSchema = Schema.from_dict(
    {"items": fields.List(fields.Nested(AttachmentSchema), required=True)},
    name="AttachmentList")
