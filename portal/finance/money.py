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


def payment_status(amount: Decimal, amount_paid: Decimal, current: str) -> str:
    """The status after a payment: PAID once the total is reached, else partially paid.

    An OVERDUE invoice stays OVERDUE until it is paid in full (otherwise the overdue beat
    would flip it back and announce it again).
    """
    if amount_paid >= amount:
        return "PAID"
    if current == "OVERDUE":
        return "OVERDUE"
    return "PARTIALLY_PAID" if amount_paid > 0 else current
