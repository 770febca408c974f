"""Auth request and response bodies."""
from marshmallow import fields, validate

from portal.schemas import InputSchema, Schema


class LoginSchema(InputSchema):
    email = fields.String(required=True, validate=validate.Length(min=3, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class RefreshSchema(InputSchema):
    refreshToken = fields.String(load_default=None)


class UserSchema(Schema):
    id = fields.String()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    landlordId = fields.String(attribute="landlord_id", allow_none=True)
    tenantId = fields.String(attribute="tenant_id", allow_none=True)
    contractorId = fields.String(attribute="contractor_id", allow_none=True)


class TokenSchema(Schema):
    accessToken = fields.String()
    refreshToken = fields.String()
    user = fields.Nested(UserSchema)


class AccessTokenSchema(Schema):
    accessToken = fields.String()


class LogoutSchema(Schema):
    success = fields.Boolean()
