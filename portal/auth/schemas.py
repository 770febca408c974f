"""Auth request and response bodies."""
from marshmallow import fields, validate

from portal.schemas import InputSchema, Schema


class LoginSchema(InputSchema):
    email = fields.String(required=True, validate=validate.Length(min=3, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class RefreshSchema(InputSchema):
    refresh_token = fields.String(load_default=None)


class UserSchema(Schema):
    id = fields.String()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    landlord_id = fields.String(allow_none=True)
    tenant_id = fields.String(allow_none=True)
    contractor_id = fields.String(allow_none=True)


class TokenSchema(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    user = fields.Nested(UserSchema)


class AccessTokenSchema(Schema):
    access_token = fields.String()


class LogoutSchema(Schema):
    success = fields.Boolean()
