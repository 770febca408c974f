"""Pure rules: line and invoice arithmetic, rounding, status after a payment; signatures."""
from decimal import Decimal as D

import pytest

from portal.money import places
from portal.finance import money, signature
from tests.finance.conftest import hmac_header


@pytest.mark.parametrize("qty, unit, tax, expected", [
    ("1", "1500.00", "0", "1500.00"),
    ("1", "10.00", "20", "12.00"),
    ("3", "0.10", "0", "0.30"),              # a float sum would be 0.30000000000000004
    ("0.5", "0.01", "0", "0.01"),            # 0.005: half-up, where banker's rounding gives 0.00
    ("1", "0.05", "10", "0.06"),             # 0.055 → 0.06
    ("1", "0.25", "10", "0.28"),             # 0.275 → 0.28 (float 0.275 is 0.27499999…)
    ("2.5", "19.99", "17.5", "58.72"),       # 58.720625
    ("3", "0.35", "5", "1.10"),              # rounded once per line: not 3 × round(0.3675)
    ("1", "1.00", "0.01", "1.00"),           # 1.0001
    ("7", "0.15", "12.5", "1.18"),           # 1.18125
    ("1", "33.33", "20", "40.00"),           # 39.996
    ("0.001", "0.01", "0", "0.00"),          # 0.00001 rounds to nothing
    ("1000000", "9999.99", "100", "19999980000.00"),
])
def test_line_amount_rounds_half_up_once(qty, unit, tax, expected):
    result = money.line_amount(D(qty), D(unit), D(tax))
    assert result == D(expected) and result.as_tuple().exponent == -2


def test_invoice_amount_sums_the_rounded_lines():
    lines = [money.line_amount(D("0.5"), D("0.01"), D(0)) for _ in range(3)]
    # Each line is 0.005 → 0.01; rounding the unrounded sum (0.015) would give 0.02.
    assert money.invoice_amount(lines) == D("0.03")
    assert money.invoice_amount([D("0.10")] * 10) == D("1.00")
    assert money.invoice_amount([]) == D("0.00")


@pytest.mark.parametrize("bad", [0.1, True, "1.00", None])
def test_floats_and_other_types_never_enter_the_arithmetic(bad):
    with pytest.raises(TypeError):
        money.line_amount(bad, D("1.00"), D(0))
    with pytest.raises(TypeError):
        money.invoice_amount([D("1.00"), bad])


@pytest.mark.parametrize("value, expected", [
    ("1500", 0), ("1500.00", 0), ("1.5", 1), ("1.50", 1), ("0.01", 2), ("0.001", 3),
    ("1E+2", 0), ("0", 0), ("-2.25", 2)])
def test_places_counts_significant_decimals(value, expected):
    assert places(D(value)) == expected


@pytest.mark.parametrize("amount, paid, current, past_due, expected", [
    ("100.00", "40.00", "SENT", False, "PARTIALLY_PAID"),
    ("100.00", "100.00", "PARTIALLY_PAID", False, "PAID"),
    ("100.00", "120.00", "SENT", False, "PAID"),
    ("100.00", "40.00", "OVERDUE", True, "OVERDUE"),
    ("100.00", "100.00", "OVERDUE", True, "PAID"),
    ("100.00", "0.00", "SENT", False, "SENT"),
    ("100.00", "40.00", "PAID", False, "PARTIALLY_PAID"),  # a partial refund reopens it
    ("100.00", "0.00", "PAID", False, "SENT"),              # a full refund
    ("100.00", "40.00", "PAID", True, "OVERDUE"),           # reopened after its due date
    ("100.00", "40.00", "SENT", True, "OVERDUE"),           # before the beat marked it
    ("100.00", "0.00", "VOID", True, "VOID"),
])
def test_status_after_payments_and_refunds(amount, paid, current, past_due, expected):
    assert money.settled_status(D(amount), D(paid), current, past_due) == expected


@pytest.mark.parametrize("amount, refunded, expected", [
    ("100.00", "0.00", "CONFIRMED"), ("100.00", "0.01", "PARTIALLY_REFUNDED"),
    ("100.00", "100.00", "REFUNDED")])
def test_payment_status_after_refunds(amount, refunded, expected):
    assert money.refunded_status(D(amount), D(refunded)) == expected


@pytest.mark.parametrize("flat, percent, outstanding, expected", [
    ("25.00", None, "1500.00", "25.00"),
    (None, "5", "1500.00", "75.00"),
    ("10.00", "1.5", "333.33", "15.00"),      # 10 + 4.99995 → 15.00 (rounded once)
    (None, "2.5", "0.10", "0.00"),            # 0.0025 rounds to nothing
    (None, "5", "0.00", "0.00"),
])
def test_late_fee_is_flat_plus_percent_of_what_is_owed(flat, percent, outstanding, expected):
    fee = money.late_fee(flat and D(flat), percent and D(percent), D(outstanding))
    assert fee == D(expected)


BODY = b'{"invoiceId":"inv_1","amount":10.00}'


def test_signature_round_trip_and_header_shape():
    header = signature.sign("s1", BODY, timestamp=1_700_000_000)
    assert header == hmac_header("s1", BODY, 1_700_000_000)
    assert signature.verify(BODY, header, ["s1"], 300, now=1_700_000_100) == 1_700_000_000
    # The tolerance's edges are inside: 300 s either way is accepted, 301 s (below) is not.
    for now in (1_700_000_300, 1_699_999_700):
        assert signature.verify(BODY, header, ["s1"], 300, now=now) == 1_700_000_000


@pytest.mark.parametrize("header, secrets, now, code", [
    (None, ["s1"], 1_700_000_000, "missing_signature"),
    ("", ["s1"], 1_700_000_000, "missing_signature"),
    ("garbage", ["s1"], 1_700_000_000, "invalid_signature"),
    ("t=abc,v1=00", ["s1"], 1_700_000_000, "invalid_signature"),
    ("t=1700000000", ["s1"], 1_700_000_000, "invalid_signature"),
    ("SIGNED:s2", ["s1"], 1_700_000_000, "invalid_signature"),
    ("SIGNED:s1", ["s1"], 1_700_000_301, "stale_signature"),
    ("SIGNED:s1", ["s1"], 1_699_999_699, "stale_signature"),
    ("SIGNED:s1", [], 1_700_000_000, "invalid_signature"),
    ("t=1700000000,v1=\u00e9\u00e9", ["s1"], 1_700_000_000, "invalid_signature"),  # not ASCII
    ("t=17=00,v1=00", ["s1"], 1_700_000_000, "invalid_signature"),
])
def test_signature_refusals(header, secrets, now, code):
    if header and header.startswith("SIGNED:"):
        header = hmac_header(header[7:], BODY, 1_700_000_000)
    with pytest.raises(signature.SignatureError) as caught:
        signature.verify(BODY, header, secrets, 300, now=now)
    assert caught.value.code == code


def test_tampered_body_fails_and_rotation_accepts_any_listed_secret():
    header = signature.sign("old", BODY, timestamp=1_700_000_000)
    with pytest.raises(signature.SignatureError):
        signature.verify(BODY.replace(b"10.00", b"99.00"), header, ["old"], 300, now=1_700_000_000)
    assert signature.verify(BODY, header, ["new", "old"], 300, now=1_700_000_000)
    # A provider signing with both secrets during rotation sends two v1 entries.
    both = header + "," + hmac_header("new", BODY, 1_700_000_000).split(",")[1]
    assert signature.verify(BODY, both, ["new"], 300, now=1_700_000_000)
    assert signature.parse_secrets(" new , old ,,") == ["new", "old"]
