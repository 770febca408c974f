"""Finance request and response bodies; money is exact (Decimal in, JSON number out)."""
from datetime import timezone
from decimal import Decimal

from marshmallow import EXCLUDE, ValidationError, fields, validate, validates_schema

from portal.fields import ExactNumber, Money, Timestamp, WholeNumber
from portal.finance.models import INVOICE_STATUSES
from portal.money import MAX_AMOUNT
from portal.pagination import PageArgsSchema
from portal.schemas import InputSchema, Schema, page_schema

CURRENCY = validate.Regexp(r"^[A-Z]{3}$", error="An ISO 4217 code in capitals, e.g. GBP.")
DEFAULT_CURRENCY = "GBP"


class LineInputSchema(InputSchema):
    description = fields.String(required=True, validate=validate.Length(min=1, max=500))
    qty = ExactNumber(3, required=True, validate=validate.Range(
        min=0, min_inclusive=False, max=Decimal(1_000_000)))
    unit_price = Money(required=True, validate=validate.Range(min=0, max=MAX_AMOUNT))
    tax_rate = ExactNumber(2, load_default=Decimal(0), validate=validate.Range(min=0, max=100))


class InvoiceCreateSchema(InputSchema):
    tenancy_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    issue_date = fields.Date(required=True)
    due_date = fields.Date(required=True)
    currency = fields.String(load_default=DEFAULT_CURRENCY, validate=CURRENCY)
    lines = fields.List(fields.Nested(LineInputSchema), required=True,
                        validate=validate.Length(min=1, max=100))

    @validates_schema
    def _due_after_issue(self, data, **_kwargs):
        if data["due_date"] < data["issue_date"]:
            raise ValidationError("Must be on or after issueDate.", "dueDate")


class VoidSchema(InputSchema):
    """``{}`` (or no body): voiding carries no data; unknown fields are refused like anywhere."""


class InvoiceListArgsSchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(INVOICE_STATUSES))
    tenancy_id = fields.String(load_default=None, validate=validate.Length(max=40))


class PaymentListArgsSchema(PageArgsSchema):
    invoice_id = fields.String(load_default=None, validate=validate.Length(max=40))


class WebhookPaymentSchema(InputSchema):
    """The provider's body; fields it adds beyond these are ignored."""

    class Meta:
        unknown = EXCLUDE

    invoice_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    amount = Money(required=True, validate=[
        validate.Range(min=0, min_inclusive=False, error="Must be greater than 0."),
        validate.Range(max=MAX_AMOUNT)])
    paid_at = fields.AwareDateTime(load_default=None, default_timezone=timezone.utc)
    provider_ref = fields.String(required=True, validate=validate.Length(min=1, max=255))
    provider = fields.String(required=True, validate=validate.Length(min=1, max=64))
    currency = fields.String(load_default=None, validate=CURRENCY)


class LineSchema(Schema):
    description = fields.String()
    qty = ExactNumber(3)
    unit_price = Money()
    tax_rate = ExactNumber(2)
    amount = Money()


class InvoiceSchema(Schema):
    id = fields.String()
    landlord_id = fields.String()
    tenancy_id = fields.String()
    number = fields.String()
    issue_date = fields.Date()
    due_date = fields.Date()
    currency = fields.String()
    amount = Money()
    amount_paid = Money()
    status = fields.String()
    lines = fields.List(fields.Nested(LineSchema))


class PaymentSchema(Schema):
    id = fields.String()
    invoice_id = fields.String()
    amount = Money()
    amount_refunded = Money()
    currency = fields.String()
    status = fields.String()
    provider = fields.String()
    provider_ref = fields.String()
    paid_at = Timestamp()
    created_at = Timestamp()


class WebhookPaymentOutSchema(Schema):
    id = fields.String()
    invoice_id = fields.String()
    amount = Money()
    status = fields.String()


class WebhookInvoiceOutSchema(Schema):
    id = fields.String()
    status = fields.String()
    amount_paid = Money()


class WebhookResultSchema(Schema):
    """200 (processed: payment and invoice) or 202 (queued: status and deliveryId) answer to a
    webhook delivery."""

    success = fields.Boolean()
    duplicate = fields.Boolean()
    payment = fields.Nested(WebhookPaymentOutSchema, metadata={"optional": True})
    invoice = fields.Nested(WebhookInvoiceOutSchema, metadata={"optional": True})
    status = fields.String(metadata={"optional": True})
    delivery_id = fields.String(metadata={"optional": True})
    ignored = fields.Boolean(metadata={"optional": True,
                                       "description": "A Stripe event type we do not act on"})
    refund = fields.Dict(metadata={"optional": True,
                                   "description": "A refund waiting for its payment"})


class RentBillingInputSchema(InputSchema):
    due_day = WholeNumber(required=True, validate=validate.Range(min=1, max=28))
    lead_days = WholeNumber(load_default=None, validate=validate.Range(min=0, max=28))
    enabled = fields.Boolean(required=True)


class RentBillingSchema(Schema):
    tenancy_id = fields.String()
    due_day = fields.Integer()
    lead_days = fields.Integer()
    enabled = fields.Boolean()


class LateFeePolicyInputSchema(InputSchema):
    """Neither flat nor percent (or both 0) is a policy that adds no fee."""

    grace_days = WholeNumber(required=True,
                                validate=validate.Range(min=0, max=365))
    flat = Money(load_default=None, allow_none=True, validate=validate.Range(min=0, max=MAX_AMOUNT))
    percent = ExactNumber(2, load_default=None, allow_none=True,
                          validate=validate.Range(min=0, max=100))


class LateFeePolicySchema(Schema):
    landlord_id = fields.String()
    grace_days = fields.Integer()
    flat = Money(allow_none=True)
    percent = ExactNumber(2, allow_none=True)
    updated_at = Timestamp()


class StatementArgsSchema(InputSchema):
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)

    @validates_schema
    def _in_order(self, data, **_kwargs):
        if data["from_"] and data["to"] and data["to"] < data["from_"]:
            raise ValidationError("Must be on or after from.", "to")


class StatementLineSchema(Schema):
    date = fields.Date()
    kind = fields.String(metadata={"enum": ["invoice", "payment", "refund", "late_fee"]})
    reference = fields.String()
    description = fields.String()
    amount = Money()
    balance = Money()


class StatementSchema(Schema):
    tenancy_id = fields.String()
    from_ = fields.Date(data_key="from", allow_none=True)
    to = fields.Date(allow_none=True)
    opening_balance = Money()
    closing_balance = Money()
    lines = fields.List(fields.Nested(StatementLineSchema))


InvoiceListSchema = page_schema(InvoiceSchema, "InvoiceList")
PaymentListSchema = page_schema(PaymentSchema, "PaymentList")
