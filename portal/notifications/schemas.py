"""Notification request and response bodies."""
from marshmallow import fields, validate

from portal.fields import Timestamp
from portal.pagination import PageArgsSchema
from portal.schemas import InputSchema, Schema, page_schema


class NotificationListArgsSchema(PageArgsSchema):
    """``?unread=true&limit=&cursor=``."""

    unread = fields.Boolean(load_default=False)


class ResourceRefSchema(Schema):
    type = fields.String(allow_none=True)
    id = fields.String(allow_none=True)


class NotificationSchema(Schema):
    id = fields.String()
    type = fields.String()
    title = fields.String()
    body = fields.String()
    resource = fields.Nested(ResourceRefSchema)
    read_at = Timestamp(allow_none=True)
    created_at = Timestamp()


class MarkReadSchema(InputSchema):
    """``{"ids": [...]}`` or ``{"all": true}``."""

    ids = fields.List(fields.String(validate=validate.Length(min=1, max=40)),
                      validate=validate.Length(max=500))
    all = fields.Boolean()


class UnreadCountSchema(Schema):
    count = fields.Integer()


class UpdatedSchema(Schema):
    updated = fields.Integer()


NotificationPageSchema = page_schema(NotificationSchema, "NotificationPage")
