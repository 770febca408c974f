"""Ticket request and response bodies."""
import json

from marshmallow import fields, validate

from portal.fields import JsonBoolean, Money, Timestamp
from portal.money import MAX_AMOUNT
from portal.pagination import PageArgsSchema
from portal.schemas import InputSchema, NotBlank, Schema, page_schema
from portal.tickets.state import PRIORITIES, STATUSES


class TicketCreateSchema(InputSchema):
    property_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    title = fields.String(required=True, validate=[validate.Length(min=1, max=200), NotBlank()])
    category = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(max=50))
    description = fields.String(required=True,
                                validate=[validate.Length(min=1, max=10000), NotBlank()])
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))


class TicketListArgsSchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    property_id = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    priority = fields.String(load_default=None, validate=validate.OneOf(PRIORITIES))
    overdue = fields.Boolean(load_default=None, metadata={
        "description": "true: only overdue tickets; false: only those not overdue."})


class AssignSchema(InputSchema):
    contractor_id = fields.String(required=True, validate=validate.Length(min=1, max=40))


class StatusChangeSchema(InputSchema):
    to = fields.String(required=True, validate=validate.OneOf(STATUSES))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class QuoteSchema(InputSchema):
    amount = Money(required=True, validate=[
        validate.Range(min=0, min_inclusive=False, error="Must be greater than 0."),
        validate.Range(max=MAX_AMOUNT)])
    notes = fields.String(required=True, validate=validate.Length(max=5000))


class ApproveSchema(InputSchema):
    """``{}``: approval carries no data (the Idempotency-Key makes a retry safe)."""


class QuoteOutSchema(Schema):
    amount = Money()
    notes = fields.String(allow_none=True)
    submitted_at = Timestamp()


class TicketSchema(Schema):
    id = fields.String()
    landlord_id = fields.String()
    tenant_id = fields.String()
    property_id = fields.String()
    contractor_id = fields.String(allow_none=True)
    title = fields.String()
    category = fields.String(allow_none=True)
    description = fields.String()
    priority = fields.String()
    status = fields.String()
    quote = fields.Nested(QuoteOutSchema, allow_none=True)
    version = fields.Integer()
    due_at = Timestamp()
    overdue = fields.Boolean()
    created_at = Timestamp()
    updated_at = Timestamp()


class TimelineEntrySchema(Schema):
    id = fields.String()
    ticket_id = fields.String()
    event_type = fields.String()
    actor_id = fields.String(allow_none=True)
    details = fields.String(metadata={"description": "A JSON-encoded object, e.g. "
                                      + json.dumps(json.dumps({"from": "OPEN", "to": "TRIAGED"}))})
    created_at = Timestamp()


class CommentCreateSchema(InputSchema):
    body = fields.String(required=True, validate=[validate.Length(min=1, max=5000), NotBlank()])
    internal = JsonBoolean(load_default=False)


class CommentSchema(Schema):
    id = fields.String()
    ticket_id = fields.String()
    author_id = fields.String()
    author_role = fields.String()
    body = fields.String()
    internal = fields.Boolean()
    created_at = Timestamp()


TicketListSchema = page_schema(TicketSchema, "TicketList")
CommentListSchema = page_schema(CommentSchema, "CommentList")
