"""Base schemas shared by every area: camelCase JSON over snake_case Python, strict input,
list envelopes, the error shape."""
from marshmallow import RAISE, Schema as _Schema, ValidationError, fields, validate


def camelcase(name: str) -> str:
    """``landlord_id`` → ``landlordId``."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class Schema(_Schema):
    """Fields are declared in snake_case, as the models and services name them; JSON (and the
    OpenAPI description, and validation messages) use camelCase."""

    def on_bind_field(self, field_name, field_obj):
        field_obj.data_key = camelcase(field_obj.data_key or field_name)


class NotBlank(validate.Validator):
    """Text with something besides whitespace (described as a pattern in /api/openapi.json)."""

    def __call__(self, value):
        if not value.strip():
            raise ValidationError("Must not be blank.")
        return value


class InputSchema(Schema):
    """Request bodies: unknown fields are refused (422), so typos never pass silently."""

    class Meta:
        unknown = RAISE


class ErrorBodySchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict(metadata={"optional": True})


class ErrorSchema(Schema):
    """The error shape every failure answers with (documented on every operation as ApiError)."""

    error = fields.Nested(ErrorBodySchema, required=True)


def page_schema(item_schema, name):
    """A ``{"items": [...], "nextCursor": ...}`` envelope for a list endpoint."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "next_cursor": fields.String(allow_none=True),
    }, name=name)
