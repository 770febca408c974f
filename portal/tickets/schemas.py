"""Ticket request and response bodies."""
import json

from marshmallow import ValidationError, fields, validate

from portal.database import MAX_AMOUNT, iso, money_json
from portal.fields import money_field
from portal.pagination import PageArgsSchema
from portal.schemas import InputSchema, Schema, page_schema
from portal.tickets.state import PRIORITIES, STATUSES


def _not_blank(value):
    if not value.strip():
        raise ValidationError("Must not be blank.")


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
    amount = money_field(required=True, validate=[
        validate.Range(min=0, min_inclusive=False, error="Must be greater than 0."),
        validate.Range(max=MAX_AMOUNT)])
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
