"""Invoice rules: who may bill, see and void which invoice; numbering; overdue marking."""
import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.database import atomic, insert_for, new_id, utcnow
from portal.directory.models import Tenancy
from portal.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from portal.events import audience
from portal.events.outbox import record_event
from portal.extensions import db
from portal.finance import money
from portal.finance.models import Invoice, InvoiceCounter, InvoiceLine, Payment, Refund
from portal.money import MAX_AMOUNT
from portal.pagination import paginate
from portal.roles import LANDLORD, TENANT

FINANCE_ROLES = (LANDLORD, TENANT)
UNPAID_VOIDABLE = ("SENT", "OVERDUE")
OVERDUE_FROM = ("SENT", "PARTIALLY_PAID")
OVERDUE_BATCH = 500


def require_finance_role(principal):
    """Contractors and OPS see no invoices (docs/API.md: who sees what): 403 before anything is loaded."""
    if principal.role not in FINANCE_ROLES:
        raise Forbidden("Your role has no access to finance.")


def visible_invoices(principal):
    """A query of the invoices the caller may see."""
    require_finance_role(principal)
    query = db.select(Invoice)
    if principal.role == LANDLORD:
        return query.where(Invoice.landlord_id == principal.landlord_id)
    return query.where(Invoice.tenancy_id == principal.tenant_id)


def get_invoice(principal, invoice_id, lock=False) -> Invoice:
    """One visible invoice, or 404 as if it did not exist."""
    query = visible_invoices(principal).where(Invoice.id == invoice_id)
    if lock:
        query = query.with_for_update()
    invoice = db.session.execute(query).scalar_one_or_none()
    if invoice is None:
        raise NotFound("No such invoice.")
    return invoice


def list_invoices(principal, limit, cursor, status=None, tenancy_id=None) -> dict:
    """A newest-first page of the caller's invoices, their lines read in the same statement
    (mapped objects: see ``paginate``)."""
    query = visible_invoices(principal).options(joinedload(Invoice.lines))
    if status:
        query = query.where(Invoice.status == status)
    if tenancy_id:
        query = query.where(Invoice.tenancy_id == tenancy_id)
    return paginate(query, Invoice, limit, cursor, mapped=True)


def _next_number(landlord_id: str, year: int) -> str:
    """Take the next number of (landlord, year) under the counter row's lock (held to commit)."""
    table = InvoiceCounter.__table__
    bump = (sa.update(table)
            .where(table.c.landlord_id == landlord_id, table.c.year == year)
            .values(last_value=table.c.last_value + 1)
            .returning(table.c.last_value))
    value = db.session.execute(bump).scalar_one_or_none()
    if value is None:
        # First invoice of the year: concurrent creators race to insert; the losers do nothing
        # and then queue on the row lock like everyone else.
        db.session.execute(insert_for(table).values(
            landlord_id=landlord_id, year=year, last_value=0).on_conflict_do_nothing())
        value = db.session.execute(bump).scalar_one()
    return f"INV-{year}-{value:06d}"


def build_lines(lines) -> list:
    """InvoiceLine rows for validated line values, each amount rounded once."""
    built = []
    for position, line in enumerate(lines, start=1):
        built.append(InvoiceLine(
            id=new_id("invl"), position=position, description=line["description"],
            qty=line["qty"], unit_price=line["unit_price"], tax_rate=line["tax_rate"],
            amount=money.line_amount(line["qty"], line["unit_price"], line["tax_rate"])))
    return built


def create_invoice(principal, data: dict):
    """Bill one of the landlord's tenancies (status SENT, or OVERDUE when already past due;
    event invoice.created)."""
    if principal.role != LANDLORD:
        raise Forbidden("Only a landlord may issue invoices.")
    tenancy = db.session.get(Tenancy, data["tenancy_id"])
    if tenancy is None or tenancy.landlord_id != principal.landlord_id:
        # The same answer for another landlord's tenancy as for none at all.
        raise ValidationFailed(details={"tenancyId": ["No such tenancy."]})
    lines = build_lines(data["lines"])
    amount = money.invoice_amount(line.amount for line in lines)
    if amount <= 0 or amount > MAX_AMOUNT:
        raise ValidationFailed(details={"lines": [
            f"The invoice total must be between 0.01 and {MAX_AMOUNT}."]})
    with atomic():
        invoice = issue_invoice(tenancy, data["issue_date"], data["due_date"], data["currency"],
                                lines, principal)
    return invoice


def issue_invoice(tenancy, issue_date, due_date, currency, lines, principal, rent_period=None):
    """Add a numbered invoice and its invoice.created event to the current transaction."""
    amount = money.invoice_amount(line.amount for line in lines)
    invoice = Invoice(
        id=new_id("inv"), landlord_id=tenancy.landlord_id, tenancy_id=tenancy.id,
        number=_next_number(tenancy.landlord_id, issue_date.year),
        issue_date=issue_date, due_date=due_date, currency=currency,
        amount=amount, amount_paid=money.to_cents(0),
        status="OVERDUE" if due_date < utcnow().date() else "SENT", version=1,
        created_by=principal.user_id if principal else None, rent_period=rent_period,
        lines=lines)
    db.session.add(invoice)
    record_invoice_event(invoice, "invoice.created", principal)
    return invoice


def void_invoice(principal, invoice_id: str):
    """Void an unpaid invoice (event invoice.voided)."""
    with atomic():  # get_invoice checks the finance role first
        invoice = get_invoice(principal, invoice_id, lock=True)
        if principal.role != LANDLORD:
            raise Forbidden("Only the landlord may void an invoice.")
        if invoice.status not in UNPAID_VOIDABLE or invoice.amount_paid > 0:
            raise InvalidTransition("Only an unpaid invoice can be voided.",
                                    details={"status": invoice.status})
        invoice.status = "VOID"
        invoice.voided_at = utcnow()
        invoice.version += 1
        record_invoice_event(invoice, "invoice.voided", principal)
    return invoice


def list_payments(principal, limit, cursor, invoice_id=None) -> dict:
    """A newest-first page of payments on the caller's invoices (one invoice's with invoiceId)."""
    visible_ids = visible_invoices(principal).with_only_columns(Invoice.id)
    query = db.select(Payment).where(Payment.invoice_id.in_(visible_ids.scalar_subquery()))
    if invoice_id is not None:
        get_invoice(principal, invoice_id)
        query = query.where(Payment.invoice_id == invoice_id)
    return paginate(query, Payment, limit, cursor)


def list_refunds(principal, invoice_id) -> list:
    """The refunds counted against a visible invoice's payments, oldest first (404 otherwise)."""
    invoice = get_invoice(principal, invoice_id)
    return db.session.execute(db.select(Refund).where(
        Refund.invoice_id == invoice.id, Refund.payment_id.is_not(None))
        .order_by(Refund.refunded_at, Refund.level)).scalars().all()


def mark_overdue(today=None) -> list:
    """Mark SENT / PARTIALLY_PAID invoices past their due date OVERDUE; return their ids."""
    today = today or utcnow().date()
    marked = []
    while True:
        with atomic():
            query = (db.select(Invoice)
                     .where(Invoice.status.in_(OVERDUE_FROM), Invoice.due_date < today)
                     .order_by(Invoice.due_date, Invoice.id).limit(OVERDUE_BATCH))
            # Rows another run or a payment holds are skipped, not waited for: the next run
            # catches up (SQLite has no row locks; its writers queue at BEGIN IMMEDIATE).
            query = query.with_for_update(skip_locked=True)
            invoices = db.session.execute(query).scalars().all()
            for invoice in invoices:
                invoice.status = "OVERDUE"
                invoice.version += 1
                record_invoice_event(invoice, "invoice.overdue", None)
                marked.append(invoice.id)
        if len(invoices) < OVERDUE_BATCH:
            return marked


def invoice_audience(invoice: Invoice) -> list:
    """Who sees an invoice's events: the landlord's and the tenancy's users only."""
    return [audience.landlord(invoice.landlord_id), audience.tenant(invoice.tenancy_id)]


def record_invoice_event(invoice, event_type, principal, extra_resources=()) -> None:
    """Write the invoice's outbox event in the current transaction."""
    record_event(
        event_type, principal, landlord_id=invoice.landlord_id, tenant_id=invoice.tenancy_id,
        resources=[{"type": "invoice", "id": invoice.id}, *extra_resources],
        audience=invoice_audience(invoice),
        version=invoice.version)
