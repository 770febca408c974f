"""Finance request and response bodies; money is exact (Decimal in, JSON number out)."""
from datetime import timezone
from decimal import Decimal

from marshmallow import (EXCLUDE, Schema, ValidationError, fields, validate, validates_schema)

from portal.database import MAX_AMOUNT, iso, money_json
from portal.finance.models import INVOICE_STATUSES
from portal.pagination import PageArgsSchema
from portal.fields import ExactNumber, money_field
from portal.schemas import InputSchema, page_schema

CURRENCY = validate.Regexp(r"^[A-Z]{3}$", error="An ISO 4217 code in capitals, e.g. GBP.")
DEFAULT_CURRENCY = "GBP"


class LineInputSchema(InputSchema):
    description = fields.String(required=True, validate=validate.Length(min=1, max=500))
    qty = ExactNumber(3, required=True, validate=validate.Range(
        min=0, min_inclusive=False, max=Decimal(1_000_000)))
    unitPrice = money_field(required=True, validate=validate.Range(min=0, max=MAX_AMOUNT))
    taxRate = ExactNumber(2, load_default=Decimal(0), validate=validate.Range(min=0, max=100))


class InvoiceCreateSchema(InputSchema):
    tenancyId = fields.String(required=True, validate=validate.Length(min=1, max=40))
    issueDate = fields.Date(required=True)
    dueDate = fields.Date(required=True)
    currency = fields.String(load_default=DEFAULT_CURRENCY, validate=CURRENCY)
    lines = fields.List(fields.Nested(LineInputSchema), required=True,
                        validate=validate.Length(min=1, max=100))

    @validates_schema
    def _due_after_issue(self, data, **_kwargs):
        if data["dueDate"] < data["issueDate"]:
            raise ValidationError("Must be on or after issueDate.", "dueDate")


class VoidSchema(InputSchema):
    """``{}`` (or no body): voiding carries no data; unknown fields are refused like anywhere."""


class InvoiceListArgsSchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(INVOICE_STATUSES))
    tenancyId = fields.String(load_default=None, validate=validate.Length(max=40))


class PaymentListArgsSchema(PageArgsSchema):
    invoiceId = fields.String(load_default=None, validate=validate.Length(max=40))


class WebhookPaymentSchema(Schema):
    """The provider's body; fields it adds beyond these are ignored."""

    class Meta:
        unknown = EXCLUDE

    invoiceId = fields.String(required=True, validate=validate.Length(min=1, max=40))
    amount = money_field(required=True, validate=[
        validate.Range(min=0, min_inclusive=False, error="Must be greater than 0."),
        validate.Range(max=MAX_AMOUNT)])
    paidAt = fields.AwareDateTime(load_default=None, default_timezone=timezone.utc)
    providerRef = fields.String(required=True, validate=validate.Length(min=1, max=255))
    provider = fields.String(required=True, validate=validate.Length(min=1, max=64))
    currency = fields.String(load_default=None, validate=CURRENCY)


class LineSchema(Schema):
    description = fields.String()
    qty = fields.Function(lambda line: float(line.qty))
    unitPrice = fields.Function(lambda line: money_json(line.unit_price))
    taxRate = fields.Function(lambda line: float(line.tax_rate))
    amount = fields.Function(lambda line: money_json(line.amount))


class InvoiceSchema(Schema):
    id = fields.String()
    landlordId = fields.String(attribute="landlord_id")
    tenancyId = fields.String(attribute="tenancy_id")
    number = fields.String()
    issueDate = fields.Function(lambda inv: iso(inv.issue_date))
    dueDate = fields.Function(lambda inv: iso(inv.due_date))
    currency = fields.String()
    amount = fields.Function(lambda inv: money_json(inv.amount))
    amountPaid = fields.Function(lambda inv: money_json(inv.amount_paid))
    status = fields.String()
    lines = fields.List(fields.Nested(LineSchema))


class PaymentSchema(Schema):
    id = fields.String()
    invoiceId = fields.String(attribute="invoice_id")
    amount = fields.Function(lambda pay: money_json(pay.amount))
    currency = fields.String()
    status = fields.String()
    provider = fields.String()
    providerRef = fields.String(attribute="provider_ref")
    paidAt = fields.Function(lambda pay: iso(pay.paid_at))
    createdAt = fields.Function(lambda pay: iso(pay.created_at))


class WebhookPaymentOutSchema(Schema):
    id = fields.String()
    invoiceId = fields.String()
    amount = fields.Float()
    status = fields.String()


class WebhookInvoiceOutSchema(Schema):
    id = fields.String()
    status = fields.String()
    amountPaid = fields.Float()


class WebhookResultSchema(Schema):
    """200 (processed) or 202 (queued) answer to a webhook delivery."""

    success = fields.Boolean()
    duplicate = fields.Boolean()
    payment = fields.Nested(WebhookPaymentOutSchema)
    invoice = fields.Nested(WebhookInvoiceOutSchema)
    status = fields.String()
    deliveryId = fields.String()


InvoiceListSchema = page_schema(InvoiceSchema, "InvoiceList")
PaymentListSchema = page_schema(PaymentSchema, "PaymentList")
