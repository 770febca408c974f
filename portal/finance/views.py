"""Finance endpoints: invoices, payments and the payment provider's webhook."""
import json
from decimal import Decimal

from flask import jsonify, request
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser, is_json_request
from webargs import core

from portal.auth.principal import authenticated, caller
from portal.finance import late_fees, payment_intake, service
from portal.routes import no_idempotency, public, raw_body
from portal.finance.schemas import (InvoiceCreateSchema, InvoiceListArgsSchema, InvoiceListSchema,
                                    InvoiceSchema, LateFeePolicyInputSchema,
                                    LateFeePolicySchema, PaymentListArgsSchema,
                                    PaymentListSchema, VoidSchema, WebhookPaymentSchema,
                                    WebhookResultSchema)


class ExactJsonParser(FlaskParser):
    """Reads JSON numbers as Decimal, so money never passes through a float."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return core.missing
        return json.loads(req.get_data(cache=True), parse_float=Decimal, parse_constant=Decimal)


class FinanceBlueprint(Blueprint):
    ARGUMENTS_PARSER = ExactJsonParser()


blp = FinanceBlueprint("finance", __name__, url_prefix="/api/finance",
                       description="Invoices and payments")


# Token, then role, then body: 401 without a token, 403 for contractors and OPS whatever they
# send (never a 422 that would answer for a resource they may not use).
_finance_role = authenticated(check=service.require_finance_role)


@blp.route("/invoices", methods=["POST"])
@_finance_role
@blp.arguments(InvoiceCreateSchema)
@blp.response(201, InvoiceSchema)
def create_invoice(body):
    """Bill one of the landlord's tenancies (status SENT)."""
    return service.create_invoice(caller(), body)


@blp.route("/invoices", methods=["GET"])
@_finance_role
@blp.arguments(InvoiceListArgsSchema, location="query")
@blp.response(200, InvoiceListSchema)
def list_invoices(args):
    """The caller's invoices, newest first (landlord: its tenancies'; tenant: its own)."""
    return service.list_invoices(caller(), args["limit"], args["cursor"],
                                 status=args["status"], tenancy_id=args["tenancy_id"])


@blp.route("/invoices/<invoice_id>", methods=["GET"])
@_finance_role
@blp.response(200, InvoiceSchema)
def get_invoice(invoice_id):
    """One invoice the caller may see."""
    return service.get_invoice(caller(), invoice_id)


@blp.route("/invoices/<invoice_id>/void", methods=["POST"])
@_finance_role
@blp.arguments(VoidSchema)
@blp.response(200, InvoiceSchema)
def void_invoice(_body, invoice_id):
    """Void an unpaid invoice (its landlord only)."""
    return service.void_invoice(caller(), invoice_id)


@blp.route("/payments", methods=["GET"])
@_finance_role
@blp.arguments(PaymentListArgsSchema, location="query")
@blp.response(200, PaymentListSchema)
def list_payments(args):
    """Payments on the caller's invoices, newest first (one invoice's with ?invoiceId=)."""
    return service.list_payments(caller(), args["limit"], args["cursor"],
                                 invoice_id=args["invoice_id"])


@blp.route("/late-fee-policy", methods=["GET"])
@_finance_role
@blp.response(200, LateFeePolicySchema)
def get_late_fee_policy():
    """The landlord's late-fee policy (404 until one is set)."""
    return late_fees.get_policy(caller())


@blp.route("/late-fee-policy", methods=["PUT"])
@_finance_role
@blp.arguments(LateFeePolicyInputSchema)
@blp.response(200, LateFeePolicySchema)
def put_late_fee_policy(body):
    """Set the landlord's late-fee policy: ``flat`` plus ``percent`` of what is still owed, once
    per invoice still unpaid ``graceDays`` after its due date."""
    return late_fees.set_policy(caller(), body)


def _prefers_async() -> bool:
    prefer = request.headers.get("Prefer", "")
    return any(token.split(";")[0].strip().lower() == "respond-async"
               for token in prefer.split(","))


def _receive(source):
    respond_async = _prefers_async()
    status, body = payment_intake.receive_webhook(
        source, request.get_data(cache=True), request.headers.get(source.header), respond_async)
    response = jsonify(body)
    response.status_code = status
    if respond_async:
        response.headers["Preference-Applied"] = "respond-async"
    return response


_PREFER = {"in": "header", "name": "Prefer", "schema": {"type": "string"},
           "description": "respond-async: answer 202 at once"}


def _provider_webhook(path, body_schema, signature_header, signature_doc):
    """A payment provider's endpoint: no token, the raw body, no Idempotency-Key (the
    provider's own id deduplicates), answered 200 when applied or 202 when queued."""
    def decorate(view):
        for mark in (blp.doc(requestBody={"required": True, "content": {
                         "application/json": {"schema": body_schema}}},
                         responses={"401": "UNAUTHORIZED"}, parameters=[
                         {"in": "header", "name": signature_header,
                          "schema": {"type": "string"}, "description": signature_doc},
                         _PREFER]),
                     blp.alt_response(202, schema=WebhookResultSchema),
                     blp.response(200, WebhookResultSchema),
                     no_idempotency, raw_body, public,
                     blp.route(path, methods=["POST"])):
            view = mark(view)
        return view
    return decorate


@_provider_webhook("/payments/webhook", WebhookPaymentSchema, "Webhook-Signature",
                   "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>")
def webhook():
    """The payment provider's signed notice; stored durably, then applied by a worker."""
    return _receive(payment_intake.GENERIC)


@_provider_webhook("/payments/webhook/stripe",
                   {"type": "object", "description": "A Stripe event object"},
                   "Stripe-Signature", "Stripe's signature (STRIPE_WEBHOOK_SECRET)")
def stripe_webhook():
    """Stripe's own events (payment_intent.succeeded, charge.refunded; others are ignored),
    stored durably, then applied by a worker."""
    return _receive(payment_intake.STRIPE)
