"""``flask finance simulate-payment``: sign and post a test payment delivery;
``flask finance bill-rent``: issue the rent invoices due on a date."""
import json
import secrets
import urllib.error
import urllib.request
from decimal import Decimal, InvalidOperation

import click
from flask import current_app
from flask.cli import AppGroup

from portal.database import utcnow
from portal.fields import iso
from portal.money import places
from portal.finance import rent, signature

finance_cli = AppGroup("finance", help="Finance tools.")
WEBHOOK_PATH = "/api/finance/payments/webhook"


def build_body(invoice_id, amount: Decimal, provider, provider_ref, currency=None) -> bytes:
    """The webhook body, with the amount written as the exact JSON number given."""
    payload = {"invoiceId": invoice_id, "amount": "__AMOUNT__", "paidAt": iso(utcnow()),
               "providerRef": provider_ref, "provider": provider}
    if currency:
        payload["currency"] = currency
    # json cannot write a Decimal; splice its exact text in rather than go through a float.
    return json.dumps(payload).replace('"__AMOUNT__"', format(amount, "f")).encode()


def _amount(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter("not a number", param_hint="--amount")
    if not amount.is_finite() or places(amount) > 2:
        raise click.BadParameter("a number with at most 2 decimals", param_hint="--amount")
    return amount


def _post_http(url, body, headers, timeout):
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@finance_cli.command("simulate-payment")
@click.argument("invoice_id")
@click.option("--amount", required=True, help="Amount paid, e.g. 1500.00.")
@click.option("--provider", default="simulator", show_default=True)
@click.option("--provider-ref", default=None, help="The provider's payment id (default: fresh).")
@click.option("--currency", default=None, help="Optional; must match the invoice's.")
@click.option("--url", default=None, help="Server base URL (default http://127.0.0.1:$PORT).")
@click.option("--local", is_flag=True, help="Post through the app in this process, not HTTP.")
@click.option("--async", "respond_async", is_flag=True, help="Send Prefer: respond-async.")
@click.option("--unsigned", is_flag=True, help="Send no signature (development servers only).")
def simulate_payment(invoice_id, amount, provider, provider_ref, currency, url, local,
                     respond_async, unsigned):
    """Sign a payment delivery with PAYMENT_WEBHOOK_SECRET and post it to the webhook."""
    config = current_app.config
    body = build_body(invoice_id, _amount(amount), provider,
                      provider_ref or "sim_" + secrets.token_hex(8), currency)
    headers = {}
    if not unsigned:
        keys = signature.parse_secrets(config["PAYMENT_WEBHOOK_SECRET"])
        if not keys:
            raise click.ClickException("PAYMENT_WEBHOOK_SECRET is empty; use --unsigned.")
        headers[signature.HEADER] = signature.sign(keys[0], body)
    if respond_async:
        headers["Prefer"] = "respond-async"
    if local:
        response = current_app.test_client().post(
            WEBHOOK_PATH, data=body, headers=headers, content_type="application/json")
        status, raw = response.status_code, response.get_data()
    else:
        base = (url or f"http://127.0.0.1:{config['PORT']}").rstrip("/")
        try:
            status, raw = _post_http(base + WEBHOOK_PATH, body, headers,
                                     config["WEBHOOK_WAIT_S"] + 10)
        except OSError as exc:
            raise click.ClickException(f"could not reach {base}: {exc}")
    click.echo(f"HTTP {status}")
    click.echo(raw.decode("utf-8", "replace"))
    if status >= 400:
        raise SystemExit(1)


@finance_cli.command("bill-rent")
@click.option("--date", "run_date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Bill as if today were this date (YYYY-MM-DD; default: today, UTC).")
def bill_rent(run_date):
    """Issue the rent invoices whose billing window holds the date (each month only once)."""
    created = rent.bill_rent(run_date.date() if run_date else None)
    click.echo(f"rent invoices issued: {len(created)}")
    for invoice_id in created:
        click.echo(invoice_id)
