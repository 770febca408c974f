"""Late fees: each landlord's policy, and the beat's task that adds one fee line to each invoice
still unpaid its grace days after the due date (never to a PAID or VOID invoice, never twice)."""
from datetime import timedelta

import sqlalchemy as sa

from portal.database import atomic, new_id, read_only, utcnow
from portal.errors import Forbidden, NotFound
from portal.extensions import db
from portal.finance import money
from portal.finance.models import Invoice, InvoiceLine, LateFeePolicy
from portal.finance.service import record_invoice_event, require_finance_role
from portal.money import MAX_AMOUNT, to_cents
from portal.roles import LANDLORD

OPEN = ("SENT", "PARTIALLY_PAID", "OVERDUE")
BATCH = 200


def _landlord(principal) -> str:
    require_finance_role(principal)
    if principal.role != LANDLORD:
        raise Forbidden("Only a landlord has a late-fee policy.")
    return principal.landlord_id


def get_policy(principal) -> LateFeePolicy:
    """The caller's (a landlord's) policy; 404 until one is set."""
    policy = db.session.get(LateFeePolicy, _landlord(principal))
    if policy is None:
        raise NotFound("No late-fee policy has been set.")
    return policy


def set_policy(principal, data: dict) -> LateFeePolicy:
    """Replace the caller's policy (it applies to every open invoice from the next check)."""
    landlord_id = _landlord(principal)
    with atomic(keep_loaded=True):
        policy = db.session.get(LateFeePolicy, landlord_id)
        if policy is None:
            policy = LateFeePolicy(landlord_id=landlord_id)
            db.session.add(policy)
        policy.grace_days = data["grace_days"]
        policy.flat, policy.percent = data.get("flat"), data.get("percent")
        policy.updated_at = utcnow()
    return policy


def add_late_fees(today=None) -> list:
    """Add the late fee each policy owes to each invoice past due + grace; return their ids."""
    today = today or utcnow().date()
    with read_only():
        policies = [(p.landlord_id, p.grace_days, p.flat, p.percent) for p in db.session.execute(
            sa.select(LateFeePolicy).where(sa.or_(LateFeePolicy.flat > 0,
                                                  LateFeePolicy.percent > 0))).scalars()]
    added = []
    for landlord_id, grace_days, flat, percent in policies:
        cutoff = today - timedelta(days=grace_days)
        after = ""
        while True:
            with atomic():
                invoices = db.session.execute(
                    sa.select(Invoice).where(
                        Invoice.landlord_id == landlord_id, Invoice.status.in_(OPEN),
                        Invoice.due_date < cutoff, Invoice.id > after, ~_has_fee())
                    .order_by(Invoice.id).limit(BATCH)
                    # Rows a payment or another run holds are skipped: the next run sees them.
                    .with_for_update(skip_locked=True)).scalars().all()
                for invoice in invoices:
                    if _add_fee(invoice, flat, percent, grace_days):
                        added.append(invoice.id)
            if len(invoices) < BATCH:
                break
            after = invoices[-1].id
    return added


def _has_fee():
    return sa.exists().where(InvoiceLine.invoice_id == Invoice.id,
                             InvoiceLine.kind == "late_fee")


def _add_fee(invoice, flat, percent, grace_days) -> bool:
    # Asked again under the lock: a run that committed meanwhile is visible to this statement.
    if db.session.execute(sa.select(InvoiceLine.id).where(
            InvoiceLine.invoice_id == invoice.id, InvoiceLine.kind == "late_fee")).first():
        return False
    fee = min(money.late_fee(flat, percent, invoice.amount - invoice.amount_paid),
              MAX_AMOUNT - invoice.amount)
    if fee <= 0:
        return False
    invoice.lines.append(InvoiceLine(
        id=new_id("invl"), position=len(invoice.lines) + 1, kind="late_fee",
        description=f"Late fee – unpaid after {invoice.due_date.isoformat()}"
                    + (f" + {grace_days} days' grace" if grace_days else ""),
        qty=1, unit_price=fee, tax_rate=0, amount=fee, added_at=utcnow()))
    invoice.amount = to_cents(invoice.amount + fee)
    invoice.status = money.settled_status(invoice.amount, invoice.amount_paid, invoice.status,
                                          past_due=True)
    invoice.version += 1
    record_invoice_event(invoice, "invoice.late_fee_added", None)
    return True
