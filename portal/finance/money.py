"""Exact invoice arithmetic: Decimal only, half-up to cents (pure, no I/O)."""
from decimal import Decimal, localcontext

from portal.money import to_cents

HUNDRED = Decimal(100)


def _decimal(value) -> Decimal:
    if isinstance(value, (float, bool)) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"money arithmetic takes Decimal or int, not {type(value).__name__}")
    return Decimal(value)


def line_amount(qty, unit_price, tax_rate) -> Decimal:
    """qty × unitPrice × (1 + taxRate/100), rounded half-up to cents once, at the end."""
    qty, unit_price, tax_rate = _decimal(qty), _decimal(unit_price), _decimal(tax_rate)
    # Enough digits that the product is exact before the one rounding step.
    with localcontext() as ctx:
        ctx.prec = 60
        return to_cents(qty * unit_price * (HUNDRED + tax_rate) / HUNDRED)


def invoice_amount(line_amounts) -> Decimal:
    """The invoice total: the sum of the already rounded line amounts."""
    return to_cents(sum((_decimal(amount) for amount in line_amounts), Decimal("0.00")))


def settled_status(amount: Decimal, amount_paid: Decimal, current: str, past_due: bool) -> str:
    """The status once payments, refunds or fees have moved ``amount_paid`` or ``amount``.

    VOID stays VOID; paid in full is PAID; otherwise an invoice past its due date (or already
    OVERDUE) is OVERDUE, so the overdue beat never flips it back and announces it again; else
    PARTIALLY_PAID when something is paid, SENT when nothing is (a refund can reopen a PAID
    invoice either way).
    """
    if current == "VOID":
        return "VOID"
    if amount_paid >= amount:
        return "PAID"
    if past_due or current == "OVERDUE":
        return "OVERDUE"
    return "PARTIALLY_PAID" if amount_paid > 0 else "SENT"


def refunded_status(amount: Decimal, amount_refunded: Decimal) -> str:
    """A payment's status after its refunds."""
    if amount_refunded <= 0:
        return "CONFIRMED"
    return "REFUNDED" if amount_refunded >= amount else "PARTIALLY_REFUNDED"


def late_fee(flat, percent, outstanding: Decimal) -> Decimal:
    """``flat`` plus ``percent`` % of what is still owed, rounded half-up once, at the end."""
    total = Decimal(0)
    if flat:
        total += _decimal(flat)
    if percent and outstanding > 0:
        with localcontext() as ctx:
            ctx.prec = 60
            total += _decimal(outstanding) * _decimal(percent) / HUNDRED
    return to_cents(total)
