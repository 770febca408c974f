"""A tenancy's statement: every charge, fee, payment and refund in date order with a running
balance (charges and refunds add to what is owed, payments take from it)."""
import csv
import io
from decimal import Decimal

import sqlalchemy as sa

from portal.extensions import db
from portal.finance.models import Invoice, Payment, Refund
from portal.finance.rent import visible_tenancy
from portal.money import to_cents

# Within one day: what was billed comes before what was paid against it.
_ORDER = {"invoice": 0, "late_fee": 1, "payment": 2, "refund": 3}
COLUMNS = ("date", "kind", "reference", "description", "amount", "balance")


def _entries(tenancy_id) -> list:
    invoices = db.session.execute(sa.select(Invoice).where(
        Invoice.tenancy_id == tenancy_id)).scalars().all()
    numbers = {invoice.id: invoice.number for invoice in invoices}
    entries = []
    for invoice in invoices:
        if invoice.status == "VOID":
            continue  # nothing is owed on it (a void invoice has nothing paid left on it)
        charges = [line for line in invoice.lines if line.kind == "charge"]
        entries.append((invoice.issue_date, "invoice", invoice.created_at, invoice.id,
                        invoice.number, "; ".join(line.description for line in charges),
                        to_cents(sum((line.amount for line in charges), Decimal(0)))))
        entries.extend((line.added_at.date(), "late_fee", line.added_at, line.id,
                        invoice.number, line.description, line.amount)
                       for line in invoice.lines if line.kind == "late_fee")
    for payment in db.session.execute(sa.select(Payment).where(
            Payment.invoice_id.in_(list(numbers)))).scalars():
        entries.append((payment.paid_at.date(), "payment", payment.paid_at, payment.id,
                        payment.provider_ref,
                        f"Payment for {numbers[payment.invoice_id]} ({payment.provider})",
                        -payment.amount))
    for refund in db.session.execute(sa.select(Refund).where(
            Refund.invoice_id.in_(list(numbers)), Refund.payment_id.is_not(None))).scalars():
        entries.append((refund.refunded_at.date(), "refund", refund.refunded_at, refund.id,
                        refund.source_ref, f"Refund for {numbers[refund.invoice_id]}",
                        refund.amount))
    entries.sort(key=lambda e: (e[0], _ORDER[e[1]], e[2], e[3]))
    return entries


def tenancy_statement(principal, tenancy_id, date_from=None, date_to=None) -> dict:
    """The statement of a tenancy its caller may see (its landlord, its tenant; else 404)."""
    tenancy = visible_tenancy(principal, tenancy_id)
    opening = Decimal("0.00")
    lines = []
    for day, kind, _at, _id, reference, description, amount in _entries(tenancy.id):
        if date_from and day < date_from:
            opening += amount
        elif not date_to or day <= date_to:
            balance = (lines[-1]["balance"] if lines else opening) + amount
            lines.append({"date": day, "kind": kind, "reference": reference,
                          "description": description, "amount": amount, "balance": balance})
    return {"tenancy_id": tenancy.id, "from_": date_from, "to": date_to,
            "opening_balance": opening,
            "closing_balance": lines[-1]["balance"] if lines else opening, "lines": lines}


def _cell(text: str) -> str:
    # A spreadsheet would run text starting like a formula: keep it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(statement: dict) -> str:
    """The statement's lines as CSV, a header row first (amounts with two decimals)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for line in statement["lines"]:
        writer.writerow([line["date"].isoformat(), line["kind"], _cell(line["reference"]),
                         _cell(line["description"]), f"{line['amount']:.2f}", f"{line['balance']:.2f}"])
    return out.getvalue()
