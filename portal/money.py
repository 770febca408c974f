"""Exact money: Decimal in Python, Numeric(12, 2) in the database, never a float; half-up to
cents; the JSON form is a number with two decimals."""
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

CENT = Decimal("0.01")
# Numeric(12, 2), the Money column: the largest amount it holds.
MAX_AMOUNT = Decimal("9999999999.99")


def places(value: Decimal) -> int:
    """How many decimal places a finite Decimal is written with (``1.50`` → 2, ``1E+2`` → 0)."""
    exponent = value.normalize().as_tuple().exponent if value else 0
    return max(0, -exponent)


def to_cents(value) -> Decimal:
    """Round a Decimal half-up to cents."""
    # A Decimal is quantized as it is, not copied first: half the cost of each money value
    # read or written (an invoice page has four hundred).
    return (value if type(value) is Decimal else Decimal(value)).quantize(CENT, ROUND_HALF_UP)


class Money(TypeDecorator):
    """Exact money: Numeric(12, 2) in the database, Decimal in Python, never float."""

    impl = sa.Numeric(12, 2, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must never be a float")
        return to_cents(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return to_cents(Decimal(str(value)) if not isinstance(value, Decimal) else value)


def money_json(value):
    """Money as a JSON number with two decimals (a float built from the exact Decimal string)."""
    return None if value is None else float(to_cents(value))
