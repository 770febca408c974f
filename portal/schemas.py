"""Base schemas shared by every area: camelCase JSON, strict input, list envelopes."""
from marshmallow import RAISE, Schema, fields


class InputSchema(Schema):
    """Request bodies: unknown fields are refused (422), so typos never pass silently."""

    class Meta:
        unknown = RAISE


class ErrorBodySchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict()


class ErrorSchema(Schema):
    """The SPEC's error shape (documented on every operation as ApiError)."""

    error = fields.Nested(ErrorBodySchema, required=True)


def page_schema(item_schema, name):
    """A ``{"items": [...], "nextCursor": ...}`` envelope for a list endpoint."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "nextCursor": fields.String(allow_none=True),
    }, name=name)
