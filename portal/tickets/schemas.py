"""Ticket request and response bodies."""
import json
from decimal import Decimal

from marshmallow import ValidationError, fields, validate

from portal.database import CENT, iso, money_json
from portal.pagination import PageArgsSchema
from portal.schemas import InputSchema, Schema, page_schema
from portal.tickets.state import PRIORITIES, STATUSES

MAX_QUOTE = Decimal("9999999999.99")  # what Numeric(12, 2) holds


def _not_blank(value):
    if not value.strip():
        raise ValidationError("Must not be blank.")


class MoneyAmount(fields.Decimal):
    """A JSON number > 0 with at most 2 decimals, loaded as an exact Decimal (never a float)."""

    def _deserialize(self, value, attr, data, **kwargs):
        # Only numbers: "12.50", true and [] are wrong types, not amounts.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        # str(float) is the shortest text that round-trips: exactly what the client wrote.
        amount = super()._deserialize(value, attr, data, **kwargs)
        if amount <= 0:
            raise ValidationError("Must be greater than 0.")
        if amount > MAX_QUOTE:
            raise ValidationError(f"Must be at most {MAX_QUOTE}.")
        if amount != amount.quantize(CENT):
            raise ValidationError("Must have at most 2 decimal places.")
        return amount


class TicketCreateSchema(InputSchema):
    propertyId = fields.String(required=True, attribute="property_id",
                               validate=validate.Length(min=1, max=40))
    title = fields.String(required=True, validate=[validate.Length(min=1, max=200), _not_blank])
    category = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(max=50))
    description = fields.String(required=True,
                                validate=[validate.Length(min=1, max=10000), _not_blank])
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))


class TicketListArgsSchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    propertyId = fields.String(load_default=None, attribute="property_id",
                               validate=validate.Length(min=1, max=40))
    priority = fields.String(load_default=None, validate=validate.OneOf(PRIORITIES))


class AssignSchema(InputSchema):
    contractorId = fields.String(required=True, attribute="contractor_id",
                                 validate=validate.Length(min=1, max=40))


class StatusChangeSchema(InputSchema):
    to = fields.String(required=True, validate=validate.OneOf(STATUSES))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class QuoteSchema(InputSchema):
    amount = MoneyAmount(required=True)
    notes = fields.String(required=True, validate=validate.Length(max=5000))


class ApproveSchema(InputSchema):
    """``{}``: approval carries no data (the Idempotency-Key makes a retry safe)."""


class QuoteOutSchema(Schema):
    amount = fields.Function(lambda q: money_json(q["amount"]))
    notes = fields.String(allow_none=True)
    submittedAt = fields.Function(lambda q: iso(q["submitted_at"]))


class TicketSchema(Schema):
    id = fields.String()
    landlordId = fields.String(attribute="landlord_id")
    tenantId = fields.String(attribute="tenant_id")
    propertyId = fields.String(attribute="property_id")
    contractorId = fields.String(attribute="contractor_id", allow_none=True)
    title = fields.String()
    category = fields.String(allow_none=True)
    description = fields.String()
    priority = fields.String()
    status = fields.String()
    quote = fields.Nested(QuoteOutSchema, allow_none=True)
    version = fields.Integer()
    createdAt = fields.Function(lambda t: iso(t.created_at))
    updatedAt = fields.Function(lambda t: iso(t.updated_at))


class TimelineEntrySchema(Schema):
    id = fields.String()
    ticketId = fields.String(attribute="ticket_id")
    eventType = fields.String(attribute="event_type")
    actorId = fields.String(attribute="actor_id", allow_none=True)
    details = fields.String(metadata={"description": "A JSON-encoded object, e.g. "
                                      + json.dumps(json.dumps({"from": "OPEN", "to": "TRIAGED"}))})
    createdAt = fields.Function(lambda e: iso(e.created_at))


TicketListSchema = page_schema(TicketSchema, "TicketList")
